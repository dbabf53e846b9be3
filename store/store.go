// Package store is the image store: blobs and manifests (store/cas), their
// metadata (store/index) and rendered trees (store/tree) under one data
// directory, with the locks that make it safe for many processes at once.
//
//	<dir>/cas/blob/...           blobs (diskv)           store/cas
//	<dir>/cas/imageManifest/...  cached manifests        store/cas
//	<dir>/cas/db/index.db        image and remote rows   store/index
//	<dir>/cas/tree/deps-...      rendered trees          store/tree
//	<dir>/cas/commits/<key>      intent: a commit or removal of key is under way
//	<dir>/cas/imagelocks/<key>   per-image flock
//	<dir>/cas/treestorelocks/<id> per-tree flock
//	<dir>/cas/downloadlocks/<h>  per-download-source flock (downloadlock.go)
//	<dir>/cas/partial/<h>[.json] interrupted downloads, resumed (partial.go)
//	<dir>/cas/.lock              shared by every open Store
//	<dir>/tmp/.tmp-store-*       temp areas of live ingests and renders
//
// Invariants:
//   - An image exists for users exactly when its index row exists. The row
//     is written last on import (after the blob, manifest and, for images
//     without dependencies, the tree are durable under their final names)
//     and removed first on removal. Blobs, manifests and trees without a
//     row are orphans that GC removes.
//   - Commit, Remove and GC's removal of an image write cas/commits/<key>
//     (holding the image's lock) before touching key's files under cas/
//     and remove it when done. A process killed at any instant leaves only
//     temp areas, and files of keys that have an intent: the next Open
//     sweeps both (an intent whose image lock is free: without a row, the
//     key's blob, manifest, trees and temps go), reading only tmp/ and
//     cas/commits/ when nothing was interrupted. GC also removes orphans
//     and temps beside blobs and manifests whose key's lock is free. An
//     incomplete tree (no "rendered") is invisible and rebuilt by Render.
//   - Commit, Remove and GC hold the image's lock exclusively, so GC never
//     removes an image being committed, and two committers of one image
//     take turns (the second finds the blob in place and drops its copy).
//   - Ingest never holds an image in memory: the tar streams through the
//     hash, a temp blob file and the extractor.
//   - Every ingest is bounded by the store's Limits (uncompressed size and
//     files' logical sizes, entries, free space left on the filesystem),
//     whoever calls it and whatever was verified; blobs, spools and
//     extracted files are written sparse.
package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/appc/spec/schema"
	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/store/cas"
	"github.com/rkt/rkt/store/index"
	"github.com/rkt/rkt/store/tree"
)

// dirPerm is the mode of the store's directories: members of the data
// dir's group (rkt) fetch and remove images too, whatever their umask.
const dirPerm = fs.ModeSetgid | 0o770

// Store is an open image store.
type Store struct {
	dir     string
	casDir  string
	tmpDir  string
	cas     *cas.CAS
	idx     *index.Index
	trees   *tree.Store
	casLock *flock.Lock
	// ownsTrees: this process may write the rendered trees. Trees keep
	// the owners of the images' files, which only root can set, and
	// cas/tree is root's alone (mode 2700); as in rkt 1.30, a member of
	// group rkt stores and removes images without touching trees: root
	// renders a tree when a pod needs it, and its image gc removes the
	// trees of removed images.
	ownsTrees bool
	now       func() time.Time
	limits    Limits
	// manifests holds what Manifest read, by image key (string ->
	// manifestRead), so that the steps of one command that each ask for
	// the same image (resolve, render, lay out the pod, touch) open the
	// index and read the file once.
	manifests sync.Map
}

// manifestRead is an image's manifest JSON and its index row as Manifest
// first read them.
type manifestRead struct {
	row  index.Image
	json []byte
}

// Open creates the layout under dataDir when missing, takes the shared
// store lock, sweeps temp areas left by dead processes and finishes their
// interrupted commits and removals (see the intents in intent.go).
func Open(dataDir string) (_ *Store, retErr error) {
	s := &Store{
		dir:    dataDir,
		casDir: filepath.Join(dataDir, "cas"),
		tmpDir: filepath.Join(dataDir, "tmp"),
		now:    time.Now,
		limits: DefaultLimits,
		// A variable, not a constant, for the tests.
		ownsTrees: os.Geteuid() == 0,
	}
	for _, d := range []string{s.casDir, s.tmpDir, filepath.Join(s.casDir, "db"), filepath.Join(s.casDir, "imagelocks"), filepath.Join(s.casDir, commitsDir)} {
		if err := atomicfile.MkdirAll(d, dirPerm); err != nil {
			return nil, fmt.Errorf("opening store %s: %w", dataDir, err)
		}
	}
	l, err := flock.LockPath(filepath.Join(s.casDir, ".lock"), flock.Shared, true, true)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", dataDir, err)
	}
	s.casLock = l
	defer func() {
		if retErr != nil {
			l.Close()
		}
	}()
	if s.cas, err = cas.Open(s.casDir); err != nil {
		return nil, fmt.Errorf("opening store %s: %w", dataDir, err)
	}
	if s.idx, err = index.Open(filepath.Join(s.casDir, "db", "index.db")); err != nil {
		return nil, fmt.Errorf("opening store %s: %w", dataDir, err)
	}
	if s.trees, err = tree.New(filepath.Join(s.casDir, "tree"), filepath.Join(s.casDir, "treestorelocks")); err != nil {
		return nil, fmt.Errorf("opening store %s: %w", dataDir, err)
	}
	if err := sweepTmp(s.tmpDir); err != nil {
		return nil, fmt.Errorf("opening store %s: sweeping temp files: %w", dataDir, err)
	}
	if err := s.sweepIntents(); err != nil {
		return nil, fmt.Errorf("opening store %s: %w", dataDir, err)
	}
	return s, nil
}

// OpenReadOnly opens the store under dataDir for reading its images
// (Images, Image, Manifest, ResolveKey) and nothing else: it creates,
// locks, sweeps and writes nothing, so a reader with read access alone
// (a member of the data dir's group, a service that must not change the
// store) can use it while other processes fetch and remove images. A
// store that was never written reads as empty. Only the reading methods
// may be called on it.
func OpenReadOnly(dataDir string) *Store {
	casDir := filepath.Join(dataDir, "cas")
	return &Store{
		dir:    dataDir,
		casDir: casDir,
		tmpDir: filepath.Join(dataDir, "tmp"),
		cas:    cas.OpenReadOnly(casDir),
		idx:    index.OpenReadOnly(filepath.Join(casDir, "db", "index.db")),
		now:    time.Now,
		limits: DefaultLimits,
	}
}

// Close releases the store lock.
func (s *Store) Close() error {
	if s.casLock == nil {
		return nil // read-only
	}
	return s.casLock.Close()
}

func (s *Store) lockImage(key string, wait bool) (*flock.Lock, error) {
	if !cas.ValidKey(key) {
		return nil, fmt.Errorf("locking image %q: %w", key, ErrInvalidKey)
	}
	return flock.LockPath(filepath.Join(s.casDir, "imagelocks", key), flock.Exclusive, wait, true)
}

// ResolveKey expands a full or short image ID ("sha512-" optional, at
// least two hex digits) to the key of the one image it names.
func (s *Store) ResolveKey(prefix string) (string, error) {
	hexPart := strings.TrimPrefix(prefix, cas.KeyPrefix)
	if len(hexPart) > cas.KeyHexLen {
		hexPart = hexPart[:cas.KeyHexLen] // a full sha512 names the same image
	}
	// The words after the ID are rkt 1.30's, which scripts match.
	if strings.Trim(hexPart, "0123456789abcdef") != "" {
		return "", fmt.Errorf("resolving image ID %q: %w", prefix, ErrInvalidKey)
	}
	if len(hexPart) < 2 {
		return "", fmt.Errorf("resolving image ID %q: image ID too short: %w", prefix, ErrInvalidKey)
	}
	full := cas.KeyPrefix + hexPart
	imgs, err := s.idx.Images()
	if err != nil {
		return "", fmt.Errorf("resolving image ID %q: %w", prefix, err)
	}
	var found []string
	for _, img := range imgs {
		if strings.HasPrefix(img.Key, full) {
			found = append(found, img.Key)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("resolving image ID %q: no image IDs found: %w", prefix, ErrNotFound)
	case 1:
		return found[0], nil
	default:
		return "", fmt.Errorf("resolving image ID %q: ambiguous image ID: %d images match: %w", prefix, len(found), ErrAmbiguous)
	}
}

// FindByName returns the image named name whose labels include labels,
// following rkt: without a "version" label, images imported as "latest"
// win; among the remaining candidates the newest import wins.
func (s *Store) FindByName(name string, labels map[string]string) (string, error) {
	imgs, err := s.idx.Images()
	if err != nil {
		return "", fmt.Errorf("finding image %q: %w", name, err)
	}
	var cands []index.Image
	for _, img := range imgs {
		if img.Name == name && hasLabels(img.Labels, labels) {
			cands = append(cands, img)
		}
	}
	if _, versioned := labels["version"]; !versioned {
		var latest []index.Image
		for _, c := range cands {
			if c.Latest {
				latest = append(latest, c)
			}
		}
		if len(latest) > 0 {
			cands = latest
		}
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("finding image %q: %w", name, ErrNotFound)
	}
	best := cands[0]
	for _, c := range cands[1:] {
		if c.ImportTime.After(best.ImportTime) {
			best = c
		}
	}
	return best.Key, nil
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// Image returns key's index row.
func (s *Store) Image(key string) (index.Image, error) {
	img, err := s.idx.Image(key)
	if errors.Is(err, index.ErrNotFound) {
		return index.Image{}, fmt.Errorf("reading image %s: %w", key, ErrNotFound)
	}
	return img, err
}

// Images returns every image row.
func (s *Store) Images() ([]index.Image, error) { return s.idx.Images() }

// Manifest returns key's parsed manifest, a fresh copy for each call, and
// its JSON.
//
// An image's manifest never changes under its key, only whether the image
// is there: after the first read this Store answers from memory, without
// opening the index (about 0.2 ms each) or the file again, until it removes
// the image itself. An image removed by another process meanwhile is the
// race there already was between the index look-up and the read that
// followed it; the image's tree lock, not this check, protects a pod's use
// of it.
func (s *Store) Manifest(key string) (*schema.ImageManifest, []byte, error) {
	var b []byte
	if v, ok := s.manifests.Load(key); ok {
		b = v.(manifestRead).json
	} else {
		row, err := s.Image(key)
		if err != nil {
			return nil, nil, err
		}
		b, err = s.cas.Manifest(key)
		if errors.Is(err, cas.ErrNotFound) {
			return nil, nil, fmt.Errorf("reading manifest of %s: %w", key, ErrNotFound)
		}
		if err != nil {
			return nil, nil, err
		}
		s.manifests.Store(key, manifestRead{row: row, json: b})
	}
	b = bytes.Clone(b) // the caller's own, as when read from the file
	var im schema.ImageManifest
	if err := im.UnmarshalJSON(b); err != nil {
		return nil, nil, fmt.Errorf("reading manifest of %s: %w: %v", key, ErrInvalidManifest, err)
	}
	return &im, b, nil
}

// OpenBlob opens key's uncompressed ACI.
func (s *Store) OpenBlob(key string) (io.ReadCloser, error) {
	if _, err := s.Image(key); err != nil {
		return nil, err
	}
	rc, err := s.cas.OpenBlob(key)
	if errors.Is(err, cas.ErrNotFound) {
		return nil, fmt.Errorf("opening image %s: %w", key, ErrNotFound)
	}
	return rc, err
}

// Remote returns the HTTP cache row of aciURL, or nil and no error.
func (s *Store) Remote(aciURL string) (*index.Remote, error) { return s.idx.Remote(aciURL) }

// PutRemote writes an HTTP cache row.
func (s *Store) PutRemote(r index.Remote) error { return s.idx.PutRemote(r) }

// TouchInterval is how stale a last-used time may get: Touch leaves a time
// less than this old alone. Every `rkt run` touches its images, and a
// write of the index is a write transaction with its syncs; pods started
// one after the other from the same images then pay for a read only.
const TouchInterval = time.Minute

// Touch sets key's lastused time to now, unless it is less than
// TouchInterval old. A row Manifest read in this process is recent enough
// to tell: a last-used time only moves forward.
func (s *Store) Touch(key string) error {
	now := s.now()
	var img index.Image
	var err error
	read, cached := s.manifests.Load(key)
	if cached {
		img = read.(manifestRead).row
	} else {
		img, err = s.idx.Image(key)
	}
	if err == nil {
		if age := now.Sub(img.LastUsed); age >= 0 && age < TouchInterval {
			return nil
		}
		err = s.idx.UpdateImage(key, func(img *index.Image) { img.LastUsed = now })
		if err == nil && cached {
			r := read.(manifestRead)
			r.row.LastUsed = now
			s.manifests.Store(key, r)
		}
	}
	if errors.Is(err, index.ErrNotFound) {
		return fmt.Errorf("touching image %s: %w", key, ErrNotFound)
	}
	return err
}

// Remove deletes an image: its row first (it disappears for users), then
// its trees, manifest and blob.
func (s *Store) Remove(key string) error {
	return s.RemoveKeepingTrees(key, nil)
}

// RemoveKeepingTrees is Remove, but leaves the rendered trees in keep
// (those pods use: removing one would break the pod's run-prepared and
// gc). They become orphans, which GC removes once no pod keeps them.
func (s *Store) RemoveKeepingTrees(key string, keep map[string]bool) error {
	l, err := s.lockImage(key, true)
	if err != nil {
		return fmt.Errorf("removing image %s: %w", key, err)
	}
	defer l.Close()
	if _, err := s.Image(key); err != nil {
		return fmt.Errorf("removing image %s: %w", key, ErrNotFound)
	}
	return s.removeLocked(key, keep)
}

// removeLocked removes key's row and then its files, under an intent so
// that a kill in between leaves nothing once the store is opened again;
// key's lock is held.
func (s *Store) removeLocked(key string, keepTrees map[string]bool) error {
	op := intentRemove
	if keepTrees != nil {
		op = intentRemoveKeepTrees
	}
	if err := s.writeIntent(key, op); err != nil {
		return fmt.Errorf("removing image %s: %w", key, err)
	}
	s.manifests.Delete(key)
	if err := s.idx.RemoveImage(key); err != nil {
		return fmt.Errorf("removing image %s: %w", key, err)
	}
	if err := s.removeFiles(key, true, keepTrees); err != nil {
		return err // says which image
	}
	return s.removeIntent(key)
}

// removeFiles deletes what an image left on disk but the trees in
// keepTrees; its lock is held. With wait unset, a tree locked by someone
// else makes it fail with flock.ErrLocked.
func (s *Store) removeFiles(key string, wait bool, keepTrees map[string]bool) error {
	var ids []string
	if s.ownsTrees && !keepTrees[keepAllTrees] {
		var err error
		if ids, err = s.trees.IDs(); err != nil {
			return fmt.Errorf("removing image %s: %w", key, err)
		}
	}
	for _, id := range ids {
		if keepTrees[id] || keepTrees[keepAllTrees] {
			continue
		}
		if top, err := s.trees.ImageKey(id); (err == nil && top == key) || id == tree.ID(key) {
			if err := s.removeTree(id, wait); err != nil {
				return fmt.Errorf("removing image %s: %w", key, err)
			}
		}
	}
	if err := s.cas.RemoveManifest(key); err != nil {
		return fmt.Errorf("removing image %s: %w", key, err)
	}
	if err := s.cas.RemoveBlob(key); err != nil {
		return fmt.Errorf("removing image %s: %w", key, err)
	}
	return nil
}

func (s *Store) removeTree(id string, wait bool) error {
	l, err := s.trees.Lock(id, flock.Exclusive, wait)
	if err != nil {
		return err
	}
	defer l.Close()
	return s.trees.Remove(id)
}

// GCOptions are image garbage collection's settings.
type GCOptions struct {
	// GracePeriod: images neither used nor imported within it are removed.
	GracePeriod time.Duration
	// KeepTrees names the trees in use (by pods). When it is non-nil, it
	// is taken to name every tree in use: all other trees are removed
	// (they are rebuilt by the next Render), as rkt's image gc does, and
	// an image whose tree is kept is never removed, whatever its age.
	// Nil: trees go only with their images (and orphans).
	KeepTrees map[string]bool
}

// GC removes images not used (nor imported) within the grace period,
// unless a kept tree is theirs, and then the layer images (AnnLayer) no
// image depends on any more that are as old; then, with KeepTrees, the
// trees nothing uses; then what interrupted commits left, orphan blobs,
// manifests and trees (never a kept one), and temp files of dead writers
// beside them.
// Images whose lock is held (being committed or removed) and trees whose
// lock is held (being rendered or read) are skipped. It returns the
// removed image keys.
func (s *Store) GC(opts GCOptions) ([]string, error) {
	imgs, err := s.idx.Images()
	if err != nil {
		return nil, fmt.Errorf("collecting images: %w", err)
	}
	keepImages := map[string]bool{}
	for id := range opts.KeepTrees {
		if !tree.ValidID(id) {
			continue
		}
		if top, err := s.trees.ImageKey(id); err == nil {
			keepImages[top] = true
		}
	}
	cutoff := s.now().Add(-opts.GracePeriod)
	if err := s.gcPartials(cutoff); err != nil {
		return nil, fmt.Errorf("collecting partial downloads: %w", err)
	}
	var removed []string
	var layers []string
	for _, img := range imgs {
		if img.Layer {
			// Kept while an image depends on it, whatever its age.
			layers = append(layers, img.Key)
			continue
		}
		if keepImages[img.Key] || !lastTouched(img).Before(cutoff) {
			continue
		}
		ok, err := s.gcImage(img.Key, cutoff)
		if err != nil {
			return removed, fmt.Errorf("collecting images: %w", err)
		}
		if ok {
			removed = append(removed, img.Key)
		}
	}
	gone, err := s.removeUnusedLayers(layers, nil, cutoff)
	removed = append(removed, gone...)
	if err != nil {
		return removed, fmt.Errorf("collecting images: %w", err)
	}
	if opts.KeepTrees != nil {
		if err := s.gcUnusedTrees(opts.KeepTrees); err != nil {
			return removed, fmt.Errorf("collecting trees: %w", err)
		}
	}
	if err := s.sweepIntents(); err != nil {
		return removed, fmt.Errorf("collecting images: %w", err)
	}
	if err := s.gcOrphans(opts.KeepTrees); err != nil {
		return removed, fmt.Errorf("collecting images: %w", err)
	}
	if err := s.gcTemps(); err != nil {
		return removed, fmt.Errorf("collecting images: %w", err)
	}
	return removed, nil
}

// gcUnusedTrees removes every tree not in keep whose image is not being
// committed and which nobody has locked, and zeroes its image's tree size.
func (s *Store) gcUnusedTrees(keep map[string]bool) error {
	ids, err := s.trees.IDs()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if keep[id] {
			continue
		}
		top, err := s.trees.ImageKey(id)
		if err != nil || !cas.ValidKey(top) {
			continue // incomplete: gcOrphans decides
		}
		l, err := s.lockImage(top, false)
		if errors.Is(err, flock.ErrLocked) {
			continue
		}
		if err != nil {
			return err
		}
		err = s.removeTree(id, false)
		if err == nil {
			s.idx.UpdateImage(top, func(img *index.Image) { img.TreeStoreSize = 0 })
		}
		l.Close()
		if err != nil && !errors.Is(err, flock.ErrLocked) {
			return err
		}
	}
	return nil
}

func lastTouched(img index.Image) time.Time {
	if img.LastUsed.After(img.ImportTime) {
		return img.LastUsed
	}
	return img.ImportTime
}

func (s *Store) gcImage(key string, cutoff time.Time) (bool, error) {
	l, err := s.lockImage(key, false)
	if errors.Is(err, flock.ErrLocked) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer l.Close()
	img, err := s.idx.Image(key) // re-read: a commit may have just renewed it
	if errors.Is(err, index.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !lastTouched(img).Before(cutoff) {
		return false, nil
	}
	if err := s.removeLocked(key, nil); err != nil {
		return false, err
	}
	return true, nil
}

func (s *Store) gcOrphans(keepTrees map[string]bool) error {
	rows := map[string]bool{}
	imgs, err := s.idx.Images()
	if err != nil {
		return err
	}
	for _, img := range imgs {
		rows[img.Key] = true
	}
	keys := map[string]bool{}
	for _, k := range s.cas.BlobKeys() {
		keys[k] = true
	}
	for _, k := range s.cas.ManifestKeys() {
		keys[k] = true
	}
	for k := range keys {
		if rows[k] {
			continue
		}
		l, err := s.lockImage(k, false)
		if errors.Is(err, flock.ErrLocked) {
			continue
		}
		if err != nil {
			return err
		}
		if _, err := s.idx.Image(k); errors.Is(err, index.ErrNotFound) {
			err = s.removeFiles(k, true, keepTrees)
		}
		l.Close()
		if err != nil {
			return err
		}
	}
	ids, err := s.trees.IDs()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if keepTrees[id] {
			continue
		}
		top, err := s.trees.ImageKey(id)
		if err == nil && rows[top] && s.trees.IsRendered(id) {
			continue
		}
		if err := s.gcTree(id, top); err != nil {
			return err
		}
	}
	return nil
}

// gcTree removes a tree whose image has no row or which is incomplete,
// unless its image is being committed or the tree is being rendered.
func (s *Store) gcTree(id, top string) error {
	if cas.ValidKey(top) {
		l, err := s.lockImage(top, false)
		if errors.Is(err, flock.ErrLocked) {
			return nil
		}
		if err != nil {
			return err
		}
		defer l.Close()
		if _, err := s.idx.Image(top); err == nil && s.trees.IsRendered(id) {
			return nil
		}
	}
	if err := s.removeTree(id, false); err != nil && !errors.Is(err, flock.ErrLocked) {
		return err
	}
	return nil
}
