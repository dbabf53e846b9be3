// Package cas keeps image blobs and their cached manifests, addressed by
// key: "sha512-" and the first 64 hex digits of the sha512 of the
// uncompressed ACI tar.
//
// On disk (diskv, rkt's layout):
//
//	<cas>/blob/sha512/<2 hex>/sha512-<64 hex>           the uncompressed tar
//	<cas>/imageManifest/sha512/<2 hex>/sha512-<64 hex>  its manifest JSON
//
// Invariants: a file under its final name is complete and matches its key
// (blobs arrive only by rename from a verified temp file, manifests by
// atomic write); both are fsynced with their directory. A writer killed
// mid-write leaves at most "<dir>/.tmp-<key>-<random>" beside the final
// name, which the store removes once nobody holds the key's lock. A blob without an
// index row is an orphan, invisible to users and removed by the store's GC.
// This package takes no locks: the store serialises writers of one key.
package cas

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/peterbourgon/diskv/v3"
	"github.com/rkt/rkt/common/atomicfile"
)

const (
	// KeyPrefix starts every key.
	KeyPrefix = "sha512-"
	// KeyHexLen is the number of hex digits after KeyPrefix.
	KeyHexLen = 64

	dirPerm  = fs.ModeSetgid | 0o770
	filePerm = 0o660
)

// ValidKey reports whether key is "sha512-" and 64 lowercase hex digits.
func ValidKey(key string) bool {
	hex, ok := strings.CutPrefix(key, KeyPrefix)
	if !ok || len(hex) != KeyHexLen {
		return false
	}
	for _, c := range hex {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// CAS is the blob and manifest store under one cas directory.
type CAS struct {
	dir       string
	blobs     *diskv.Diskv
	manifests *diskv.Diskv
}

// Open uses (creating when missing) the blob and manifest trees under
// casDir.
func Open(casDir string) (*CAS, error) {
	c := &CAS{dir: casDir}
	for _, sub := range []string{"blob", "imageManifest"} {
		if err := atomicfile.MkdirAll(filepath.Join(casDir, sub), dirPerm); err != nil {
			return nil, fmt.Errorf("opening blob store: %w", err)
		}
	}
	c.blobs = newDiskv(filepath.Join(casDir, "blob"))
	c.manifests = newDiskv(filepath.Join(casDir, "imageManifest"))
	return c, nil
}

// OpenReadOnly uses the blob and manifest trees under casDir without
// creating anything, for readers that may not write to the store.
func OpenReadOnly(casDir string) *CAS {
	return &CAS{
		dir:       casDir,
		blobs:     newDiskv(filepath.Join(casDir, "blob")),
		manifests: newDiskv(filepath.Join(casDir, "imageManifest")),
	}
}

func newDiskv(base string) *diskv.Diskv {
	return diskv.New(diskv.Options{
		BasePath: base,
		AdvancedTransform: func(key string) *diskv.PathKey {
			return &diskv.PathKey{Path: transform(key), FileName: key}
		},
		InverseTransform: func(pk *diskv.PathKey) string { return pk.FileName },
		PathPerm:         dirPerm,
		FilePerm:         filePerm,
	})
}

// transform gives the directories of a key: sha512/<first two hex digits>.
func transform(key string) []string {
	hex := strings.TrimPrefix(key, KeyPrefix)
	if len(hex) < 2 {
		return []string{"sha512"}
	}
	return []string{"sha512", hex[:2]}
}

func (c *CAS) path(sub, key string) string {
	return filepath.Join(append(append([]string{c.dir, sub}, transform(key)...), key)...)
}

// BlobPath is where the blob of key lives (whether or not it exists).
func (c *CAS) BlobPath(key string) string { return c.path("blob", key) }

// ManifestPath is where the cached manifest of key lives (whether or not it
// exists).
func (c *CAS) ManifestPath(key string) string { return c.path("imageManifest", key) }

// KeyDirs lists the directories that hold blobs and manifests, where
// leftovers of a killed writer (atomicfile temps) may sit beside them.
func (c *CAS) KeyDirs() []string {
	var dirs []string
	for _, sub := range []string{"blob", "imageManifest"} {
		base := filepath.Join(c.dir, sub, "sha512")
		ents, err := os.ReadDir(base)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(base, e.Name()))
			}
		}
	}
	return dirs
}

// HasBlob reports whether the blob of key is present.
func (c *CAS) HasBlob(key string) bool {
	if !ValidKey(key) {
		return false
	}
	_, err := os.Stat(c.BlobPath(key))
	return err == nil
}

// CommitBlob moves the complete, verified temp file into place as key's
// blob. When the blob is already present (the same bytes, by its key), the
// temp file is removed instead. tempPath must be on the same file system.
func (c *CAS) CommitBlob(tempPath, key string) error {
	if !ValidKey(key) {
		return fmt.Errorf("committing blob %q: %w", key, ErrInvalidKey)
	}
	if c.HasBlob(key) {
		os.Remove(tempPath)
		return nil
	}
	if err := os.Chmod(tempPath, filePerm); err != nil {
		return fmt.Errorf("committing blob %s: %w", key, err)
	}
	// diskv would make the directory with the umask applied.
	if err := atomicfile.MkdirAll(filepath.Dir(c.BlobPath(key)), dirPerm); err != nil {
		return fmt.Errorf("committing blob %s: %w", key, err)
	}
	if err := c.blobs.Import(tempPath, key, true); err != nil {
		return fmt.Errorf("committing blob %s: %w", key, err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(c.BlobPath(key))); err != nil {
		return fmt.Errorf("committing blob %s: %w", key, err)
	}
	return nil
}

// OpenBlob opens key's blob for reading.
func (c *CAS) OpenBlob(key string) (io.ReadCloser, error) {
	if !ValidKey(key) {
		return nil, fmt.Errorf("opening blob %q: %w", key, ErrInvalidKey)
	}
	f, err := os.Open(c.BlobPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("opening blob %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("opening blob %s: %w", key, err)
	}
	return f, nil
}

// BlobSize is the size in bytes of key's blob.
func (c *CAS) BlobSize(key string) (int64, error) {
	fi, err := os.Stat(c.BlobPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("sizing blob %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("sizing blob %s: %w", key, err)
	}
	return fi.Size(), nil
}

// RemoveBlob deletes key's blob; a missing blob is not an error.
func (c *CAS) RemoveBlob(key string) error {
	if !ValidKey(key) {
		return fmt.Errorf("removing blob %q: %w", key, ErrInvalidKey)
	}
	if err := os.Remove(c.BlobPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing blob %s: %w", key, err)
	}
	return nil
}

// PutManifest caches key's manifest JSON.
func (c *CAS) PutManifest(key string, manifest []byte) error {
	if !ValidKey(key) {
		return fmt.Errorf("writing manifest %q: %w", key, ErrInvalidKey)
	}
	p := c.path("imageManifest", key)
	if err := atomicfile.MkdirAll(filepath.Dir(p), dirPerm); err != nil {
		return fmt.Errorf("writing manifest %s: %w", key, err)
	}
	if err := atomicfile.WriteFile(p, manifest, filePerm); err != nil {
		return fmt.Errorf("writing manifest %s: %w", key, err)
	}
	return nil
}

// Manifest returns key's cached manifest JSON.
func (c *CAS) Manifest(key string) ([]byte, error) {
	if !ValidKey(key) {
		return nil, fmt.Errorf("reading manifest %q: %w", key, ErrInvalidKey)
	}
	b, err := os.ReadFile(c.path("imageManifest", key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading manifest %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", key, err)
	}
	return b, nil
}

// RemoveManifest deletes key's cached manifest; a missing one is not an
// error.
func (c *CAS) RemoveManifest(key string) error {
	if !ValidKey(key) {
		return fmt.Errorf("removing manifest %q: %w", key, ErrInvalidKey)
	}
	if err := os.Remove(c.path("imageManifest", key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing manifest %s: %w", key, err)
	}
	return nil
}

// BlobKeys lists the keys of every blob present.
func (c *CAS) BlobKeys() []string {
	return validKeys(c.blobs)
}

// ManifestKeys lists the keys of every cached manifest.
func (c *CAS) ManifestKeys() []string {
	return validKeys(c.manifests)
}

func validKeys(d *diskv.Diskv) []string {
	var keys []string
	for k := range d.Keys(nil) {
		if ValidKey(k) {
			keys = append(keys, k)
		}
	}
	return keys
}
