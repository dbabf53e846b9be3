// Package tree keeps rendered image trees: an image's rootfs with its
// dependencies layered below it and its pathWhitelist applied, ready to be
// an overlay lower dir.
//
// On disk:
//
//	<tree>/deps-sha512-<64 hex>/
//	    rootfs/    the rendered files
//	    manifest   the top image's manifest
//	    image      the top image's key
//	    hash       "sha512-" + hex sha512 of the canonical walk (see Hash)
//	    rendered   written last, atomically: the tree is complete
//
// Invariants: a tree without "rendered" is invisible (IsRendered is false)
// and is replaced by the next render; a tree is built in a staging
// directory, made durable with syncfs, and renamed into place before
// "rendered" is written. Removal deletes "rendered" first. Callers
// serialise writers of one tree with Lock.
package tree

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/common/tarsafe"
	"golang.org/x/sys/unix"
)

const (
	// IDPrefix starts every tree ID.
	IDPrefix = "deps-"

	renderedFile = "rendered"
	hashFile     = "hash"
	imageFile    = "image"
)

// ID names the tree of an image chain, bottom dependency first and the
// image itself last. An image without dependencies gets "deps-<key>"; a
// chain gets "deps-sha512-" and the first 64 hex digits of the sha512 of
// the keys joined by newlines.
func ID(chain ...string) string {
	if len(chain) == 1 {
		return IDPrefix + chain[0]
	}
	sum := sha512.Sum512([]byte(strings.Join(chain, "\n")))
	return IDPrefix + "sha512-" + hex.EncodeToString(sum[:32])
}

// ValidID reports whether id looks like a tree ID (and is a safe name).
func ValidID(id string) bool {
	rest, ok := strings.CutPrefix(id, IDPrefix+"sha512-")
	if !ok || len(rest) != 64 {
		return false
	}
	for _, c := range rest {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Store is the tree directory and its lock directory.
type Store struct {
	dir     string
	lockDir string
}

// New uses (creating when missing) dir for trees and lockDir for their locks.
func New(dir, lockDir string) (*Store, error) {
	for _, d := range []string{dir, lockDir} {
		if err := os.MkdirAll(d, 0o2770); err != nil {
			return nil, fmt.Errorf("opening tree store: %w", err)
		}
	}
	return &Store{dir: dir, lockDir: lockDir}, nil
}

// Path is the tree's directory.
func (s *Store) Path(id string) string { return filepath.Join(s.dir, id) }

// Lock takes the tree's lock (waiting for it when wait is set).
func (s *Store) Lock(id string, mode flock.Mode, wait bool) (*flock.Lock, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("locking tree %q: invalid tree ID", id)
	}
	return flock.LockPath(filepath.Join(s.lockDir, id), mode, wait, true)
}

// IsRendered reports whether the tree is complete.
func (s *Store) IsRendered(id string) bool {
	if !ValidID(id) {
		return false
	}
	_, err := os.Stat(filepath.Join(s.dir, id, renderedFile))
	return err == nil
}

// ImageKey returns the key of the tree's top image.
func (s *Store) ImageKey(id string) (string, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, id, imageFile))
	if err != nil {
		return "", fmt.Errorf("reading tree %s: %w", id, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// IDs lists every tree directory, complete or not.
func (s *Store) IDs() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("listing trees: %w", err)
	}
	var ids []string
	for _, e := range ents {
		if ValidID(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// Layer is one image of a chain.
type Layer struct {
	Key  string
	Open func() (io.ReadCloser, error) // the uncompressed ACI tar
}

// Build extracts layers, bottom first, into stage (an existing empty
// directory), takes the manifest from the last layer and applies its
// pathWhitelist (when not empty: files not listed are removed, and
// directories left empty that are not listed).
func Build(ctx context.Context, stage string, layers []Layer, whitelist []string) error {
	for i, l := range layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		rc, err := l.Open()
		if err != nil {
			return fmt.Errorf("rendering %s: %w", l.Key, err)
		}
		_, err = tarsafe.Extract(rc, stage, tarsafe.Options{SkipManifest: i != len(layers)-1})
		rc.Close()
		if err != nil {
			return fmt.Errorf("rendering %s: %w", l.Key, err)
		}
	}
	if len(whitelist) == 0 {
		return nil
	}
	return applyWhitelist(filepath.Join(stage, tarsafe.RootfsName), whitelist)
}

func applyWhitelist(rootfs string, whitelist []string) error {
	keep := map[string]bool{}
	for _, p := range whitelist {
		keep[filepath.Clean("/"+p)] = true
	}
	var dirs []string
	err := filepath.WalkDir(rootfs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, rootfs), "/")
		if rel == "/" {
			return nil
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		if !keep[filepath.Clean(rel)] {
			return os.Remove(p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("applying pathWhitelist: %w", err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		rel := filepath.Clean("/" + strings.TrimPrefix(dirs[i], rootfs))
		if !keep[rel] {
			os.Remove(dirs[i]) // fails, as wanted, when not empty
		}
	}
	return nil
}

// Install makes stage (built by Build) the tree id of image topKey. The
// caller holds the tree's exclusive lock. When a complete tree is already
// there, stage is removed instead. It returns the tree's size in bytes.
func (s *Store) Install(stage, id, topKey string) (int64, error) {
	if !ValidID(id) {
		return 0, fmt.Errorf("installing tree %q: invalid tree ID", id)
	}
	final := s.Path(id)
	if s.IsRendered(id) {
		os.RemoveAll(stage)
		_, size, err := Hash(final)
		return size, err
	}
	sum, size, err := Hash(stage)
	if err != nil {
		return 0, fmt.Errorf("installing tree %s: %w", id, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(stage, hashFile), []byte(sum+"\n"), 0o640); err != nil {
		return 0, fmt.Errorf("installing tree %s: %w", id, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(stage, imageFile), []byte(topKey+"\n"), 0o640); err != nil {
		return 0, fmt.Errorf("installing tree %s: %w", id, err)
	}
	if err := syncFS(stage); err != nil {
		return 0, fmt.Errorf("installing tree %s: %w", id, err)
	}
	if err := os.RemoveAll(final); err != nil { // an incomplete leftover
		return 0, fmt.Errorf("installing tree %s: removing incomplete tree: %w", id, err)
	}
	if err := os.Rename(stage, final); err != nil {
		return 0, fmt.Errorf("installing tree %s: %w", id, err)
	}
	if err := atomicfile.SyncDir(s.dir); err != nil {
		return 0, fmt.Errorf("installing tree %s: %w", id, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(final, renderedFile), nil, 0o640); err != nil {
		return 0, fmt.Errorf("installing tree %s: %w", id, err)
	}
	return size, nil
}

func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncing file system of %s: %w", dir, err)
	}
	return nil
}

// Remove deletes the tree; the caller holds its exclusive lock.
func (s *Store) Remove(id string) error {
	if !ValidID(id) {
		return fmt.Errorf("removing tree %q: invalid tree ID", id)
	}
	p := s.Path(id)
	if err := os.Remove(filepath.Join(p, renderedFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing tree %s: %w", id, err)
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("removing tree %s: %w", id, err)
	}
	return nil
}

// Verify recomputes the tree's hash and compares it with the recorded one.
func (s *Store) Verify(id string) error {
	if !s.IsRendered(id) {
		return fmt.Errorf("verifying tree %s: %w", id, ErrNotRendered)
	}
	want, err := os.ReadFile(filepath.Join(s.Path(id), hashFile))
	if err != nil {
		return fmt.Errorf("verifying tree %s: %w", id, err)
	}
	got, _, err := Hash(s.Path(id))
	if err != nil {
		return fmt.Errorf("verifying tree %s: %w", id, err)
	}
	if got != strings.TrimSpace(string(want)) {
		return fmt.Errorf("verifying tree %s: %w", id, ErrTreeCorrupt)
	}
	return nil
}

// Hash digests a tree directory: its manifest and a walk of rootfs/ in
// lexical order where each entry contributes its path, type and mode,
// uid, gid, size, device number, symlink target and the sha512 of its
// content. Mtimes are left out. It also returns the total size of the
// regular files.
func Hash(dir string) (string, int64, error) {
	h := sha512.New()
	var total int64
	buf := make([]byte, 1<<20)
	fileSum := func(p string) (string, error) {
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		defer f.Close()
		fh := sha512.New()
		if _, err := io.CopyBuffer(fh, f, buf); err != nil {
			return "", err
		}
		return hex.EncodeToString(fh.Sum(nil)), nil
	}
	ms, err := fileSum(filepath.Join(dir, tarsafe.ManifestName))
	if err != nil {
		return "", 0, fmt.Errorf("hashing tree: %w", err)
	}
	fmt.Fprintf(h, "manifest %s\n", ms)
	rootfs := filepath.Join(dir, tarsafe.RootfsName)
	err = filepath.WalkDir(rootfs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		rel, _ := filepath.Rel(rootfs, p)
		extra := ""
		switch {
		case fi.Mode().IsRegular():
			total += fi.Size()
			if extra, err = fileSum(p); err != nil {
				return err
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			if extra, err = os.Readlink(p); err != nil {
				return err
			}
		case fi.Mode()&(fs.ModeDevice|fs.ModeCharDevice) != 0:
			extra = fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		fmt.Fprintf(h, "%q %o %d %d %d %q\n", rel, uint32(fi.Mode()), st.Uid, st.Gid, sizeOf(fi), extra)
		return nil
	})
	if err != nil {
		return "", 0, fmt.Errorf("hashing tree: %w", err)
	}
	return "sha512-" + hex.EncodeToString(h.Sum(nil)), total, nil
}

func sizeOf(fi fs.FileInfo) int64 {
	if fi.Mode().IsRegular() {
		return fi.Size()
	}
	return 0
}
