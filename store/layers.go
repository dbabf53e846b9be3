package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/store/index"
)

// AnnLayer marks an image converted from one OCI layer; its value is the
// layer's diff ID ("sha256:<hex>"). Such a layer image is shared, stored
// once, by every image holding the layer, and used only through them: it
// is listed apart (index.Image.Layer), removed with the last image that
// depends on it, and never removed while one does.
const AnnLayer = "appc.io/oci/diffid"

// dependents maps each image key to the keys of the stored images that
// depend on it by image ID, leaving out the images in gone.
func (s *Store) dependents(gone map[string]bool) (map[string][]string, error) {
	imgs, err := s.idx.Images()
	if err != nil {
		return nil, err
	}
	users := map[string][]string{}
	for _, img := range imgs {
		if gone[img.Key] {
			continue
		}
		m, _, err := s.Manifest(img.Key)
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		for _, d := range m.Dependencies {
			if d.ImageID == nil || d.ImageID.Empty() {
				continue
			}
			if k, err := s.ResolveKey(d.ImageID.String()); err == nil {
				users[k] = append(users[k], img.Key)
			}
		}
	}
	return users, nil
}

// RemoveImage is what `image rm` does to one image: a layer image that
// other images still depend on is refused (ErrLayerInUse); any other
// image is removed (RemoveKeepingTrees), then the layer images it
// depended on that no image depends on any more. It returns the keys
// removed, key first.
func (s *Store) RemoveImage(key string, keepTrees map[string]bool) ([]string, error) {
	img, err := s.Image(key)
	if err != nil {
		return nil, fmt.Errorf("removing image %s: %w", key, err)
	}
	if img.Layer {
		users, err := s.dependents(nil)
		if err != nil {
			return nil, fmt.Errorf("removing image %s: %w", key, err)
		}
		if u := users[key]; len(u) > 0 {
			return nil, fmt.Errorf("removing image %s: %w (used by %d, among them %s: remove those instead)", key, ErrLayerInUse, len(u), u[0])
		}
	}
	m, _, err := s.Manifest(key)
	if err != nil {
		return nil, fmt.Errorf("removing image %s: %w", key, err)
	}
	if err := s.RemoveKeepingTrees(key, keepTrees); err != nil {
		return nil, err
	}
	removed := []string{key}
	var deps []string
	for _, d := range m.Dependencies {
		if d.ImageID == nil || d.ImageID.Empty() {
			continue
		}
		if k, err := s.ResolveKey(d.ImageID.String()); err == nil {
			deps = append(deps, k)
		}
	}
	more, err := s.removeUnusedLayers(deps, keepTrees, time.Time{})
	return append(removed, more...), err
}

// removeUnusedLayers removes the layer images among candidates that no
// stored image depends on and that were last touched before cutoff (the
// zero time: whenever). It returns the keys removed.
func (s *Store) removeUnusedLayers(candidates []string, keepTrees map[string]bool, cutoff time.Time) ([]string, error) {
	if len(candidates) == 0 {
		return nil, nil
	}
	users, err := s.dependents(nil)
	if err != nil {
		return nil, fmt.Errorf("collecting unused layers: %w", err)
	}
	var removed []string
	seen := map[string]bool{}
	for _, k := range candidates {
		if seen[k] || len(users[k]) > 0 {
			continue
		}
		seen[k] = true
		ok, err := s.removeUnusedLayer(k, keepTrees, cutoff)
		if err != nil {
			return removed, err
		}
		if ok {
			removed = append(removed, k)
		}
	}
	return removed, nil
}

// removeUnusedLayer removes k if it is a layer image not touched since
// cutoff (when not zero), unless its lock is held (being committed).
func (s *Store) removeUnusedLayer(k string, keepTrees map[string]bool, cutoff time.Time) (bool, error) {
	l, err := s.lockImage(k, false)
	if errors.Is(err, flock.ErrLocked) {
		return false, nil // being committed or removed
	}
	if err != nil {
		return false, err
	}
	defer l.Close()
	img, err := s.idx.Image(k)
	if errors.Is(err, index.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !img.Layer || !cutoff.IsZero() && !lastTouched(img).Before(cutoff) {
		return false, nil
	}
	if err := s.removeLocked(k, keepTrees); err != nil {
		return false, err
	}
	return true, nil
}
