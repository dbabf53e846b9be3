package store

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/store/index"
	"github.com/rkt/rkt/store/tree"
)

// maxDependencyDepth bounds dependency chains (and catches cycles).
const maxDependencyDepth = 64

// chain resolves key's dependencies, depth first: each dependency's own
// dependencies come before it, dependencies in manifest order, the image
// itself last; an image appearing twice is kept at its first place. The
// top image's manifest is returned too, parsed and as stored.
func (s *Store) chain(key string) ([]string, *schema.ImageManifest, []byte, error) {
	var order []string
	seen := map[string]bool{}
	var top *schema.ImageManifest
	var topRaw []byte
	var walk func(key string, depth int) error
	walk = func(key string, depth int) error {
		if depth > maxDependencyDepth {
			return fmt.Errorf("dependencies of %s nest deeper than %d (a cycle?)", key, maxDependencyDepth)
		}
		im, raw, err := s.Manifest(key)
		if err != nil {
			return err
		}
		if depth == 0 {
			top, topRaw = im, raw
		}
		for _, d := range im.Dependencies {
			dk, err := s.resolveDependency(d.ImageName.String(), d.ImageID, d.Labels.ToMap())
			if err != nil {
				return fmt.Errorf("dependency %q of %s: %w", d.ImageName, key, err)
			}
			if err := walk(dk, depth+1); err != nil {
				return err
			}
		}
		if !seen[key] {
			seen[key] = true
			order = append(order, key)
		}
		return nil
	}
	if err := walk(key, 0); err != nil {
		return nil, nil, nil, err
	}
	return order, top, topRaw, nil
}

func (s *Store) resolveDependency(name string, id *types.Hash, labels map[types.ACIdentifier]string) (string, error) {
	if id != nil && !id.Empty() {
		key, err := s.ResolveKey(id.String())
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrMissingDependency, err)
		}
		return key, nil
	}
	want := map[string]string{}
	for k, v := range labels {
		want[k.String()] = v
	}
	key, err := s.FindByName(name, want)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrMissingDependency, err)
	}
	return key, nil
}

// Render builds the tree of key with its dependencies and pathWhitelist
// applied, unless it is already complete, and returns its ID.
func (s *Store) Render(ctx context.Context, key string) (string, error) {
	id, _, _, err := s.render(ctx, key, false)
	return id, err
}

// RenderManifest is Render, and returns key's manifest as Manifest does:
// rendering reads it anyway, and a pod start needs both.
func (s *Store) RenderManifest(ctx context.Context, key string) (treeID string, _ *schema.ImageManifest, raw []byte, _ error) {
	return s.render(ctx, key, false)
}

// RepairTree rebuilds key's tree from the blobs, whatever its state.
func (s *Store) RepairTree(ctx context.Context, key string) (string, error) {
	id, _, _, err := s.render(ctx, key, true)
	return id, err
}

func (s *Store) render(ctx context.Context, key string, rebuild bool) (string, *schema.ImageManifest, []byte, error) {
	keys, top, topRaw, err := s.chain(key)
	if err != nil {
		return "", nil, nil, fmt.Errorf("rendering image %s: %w", key, err)
	}
	id := tree.ID(keys...)
	if !rebuild && s.trees.IsRendered(id) {
		return id, top, topRaw, nil
	}
	l, err := s.trees.Lock(id, flock.Exclusive, true)
	if err != nil {
		return "", nil, nil, fmt.Errorf("rendering image %s: %w", key, err)
	}
	defer l.Close()
	if rebuild {
		if err := s.trees.Remove(id); err != nil {
			return "", nil, nil, fmt.Errorf("rendering image %s: %w", key, err)
		}
	} else if s.trees.IsRendered(id) {
		return id, top, topRaw, nil
	}
	area, err := newTempArea(s.tmpDir)
	if err != nil {
		return "", nil, nil, fmt.Errorf("rendering image %s: %w", key, err)
	}
	defer area.remove()
	stage := filepath.Join(area.dir, "tree")
	if err := os.Mkdir(stage, 0o755); err != nil {
		return "", nil, nil, fmt.Errorf("rendering image %s: %w", key, err)
	}
	layers := make([]tree.Layer, len(keys))
	for i, k := range keys {
		layers[i] = tree.Layer{Key: k, Open: func() (io.ReadCloser, error) { return s.cas.OpenBlob(k) }}
		wo, isLayer, err := s.whiteouts(k)
		if err != nil {
			return "", nil, nil, fmt.Errorf("rendering image %s: %w", key, err)
		}
		layers[i].Whiteouts, layers[i].LowerLinks = wo, isLayer
	}
	// BuildHashed hashes the tree from what its extraction wrote; it
	// re-reads the tree only when a layer writes or deletes through a
	// symlink of a layer below.
	sum, err := tree.BuildHashed(ctx, stage, layers, top.PathWhitelist)
	if err != nil {
		return "", nil, nil, fmt.Errorf("rendering image %s: %w", key, err)
	}
	size, err := s.trees.InstallHashed(stage, id, key, sum)
	if err != nil {
		return "", nil, nil, fmt.Errorf("rendering image %s: %w", key, err)
	}
	// The row may be gone (removed meanwhile); the tree is then an orphan
	// for GC.
	s.idx.UpdateImage(key, func(img *index.Image) { img.TreeStoreSize = size })
	return id, top, topRaw, nil
}

// AnnWhiteouts is the annotation of a layer image converted from an OCI
// layer that lists, as a JSON array, what the layer deletes below it (see
// tree.Layer.Whiteouts).
const AnnWhiteouts = "appc.io/oci/whiteouts"

// whiteouts returns what key deletes below it, and whether it is an OCI
// layer image (AnnLayer), whose hardlinks may name files below it.
func (s *Store) whiteouts(key string) ([]string, bool, error) {
	m, _, err := s.Manifest(key)
	if err != nil {
		return nil, false, err
	}
	_, isLayer := m.Annotations.Get(AnnLayer)
	v, ok := m.Annotations.Get(AnnWhiteouts)
	if !ok {
		return nil, isLayer, nil
	}
	var paths []string
	if err := json.Unmarshal([]byte(v), &paths); err != nil {
		return nil, false, fmt.Errorf("reading the whiteouts of %s: %w", key, err)
	}
	return paths, isLayer, nil
}

// TreePath is the directory of a tree (rootfs/ and manifest inside).
func (s *Store) TreePath(treeID string) string { return s.trees.Path(treeID) }

// VerifyTree re-hashes a rendered tree; ErrTreeCorrupt when it changed.
func (s *Store) VerifyTree(treeID string) error {
	l, err := s.trees.Lock(treeID, flock.Shared, true)
	if err != nil {
		return fmt.Errorf("verifying tree %s: %w", treeID, err)
	}
	defer l.Close()
	return s.trees.Verify(treeID)
}
