package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/store/cas"
	"github.com/rkt/rkt/store/index"
)

// Intents: cas/commits/<key> says that a change to key's files may be
// under way. Commit writes it (atomically, holding the image lock) before
// anything of key is written under cas/, and removes it after the index
// row is written; Remove and GC write it before removing the row and
// remove it after the files are gone. So a process killed at any instant
// of a commit or removal leaves an intent beside whatever it left, and
// Open, which only reads the (normally empty) commits directory, knows
// exactly which keys to look at:
//
//	intent present, image lock free  -> its owner died: when key has no
//	                                     row, remove its blob, manifest,
//	                                     trees and temps; then the intent
//	intent present, image lock held  -> a live commit: leave everything
//
// A stale intent (its removal lost in a power cut) is harmless: the sweep
// finds the row and only removes the intent.

const (
	commitsDir = "commits"

	intentCommit = "commit"
	intentRemove = "remove"
	// intentRemoveKeepTrees: a removal that leaves the image's trees
	// (image rm: pods may use them; image gc removes them later). An
	// interrupted one is finished the same way: trees left.
	intentRemoveKeepTrees = "remove-keep-trees"
)

// keepAllTrees, as a key of removeFiles's keepTrees, keeps every tree (no
// tree ID has this form).
const keepAllTrees = "*"

// errTreeBusy: a tree of a swept key is being rendered; the sweep retries
// on a later Open.
var errTreeBusy = errors.New("tree in use")

func (s *Store) intentPath(key string) string {
	return filepath.Join(s.casDir, commitsDir, key)
}

// writeIntent records that op on key is starting; key's lock is held.
func (s *Store) writeIntent(key, op string) error {
	if err := atomicfile.WriteFile(s.intentPath(key), []byte(op+"\n"), 0o660); err != nil {
		return fmt.Errorf("recording %s intent: %w", op, err)
	}
	return nil
}

// removeIntent ends what writeIntent started; key's lock is held. The
// directory is not synced: an intent that comes back after a power cut
// only costs the next Open one look at key.
func (s *Store) removeIntent(key string) error {
	if err := os.Remove(s.intentPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing intent of %s: %w", key, err)
	}
	return nil
}

// sweepIntents finishes the commits and removals whose process died. It
// costs one ReadDir when no intent is left, which is the common case.
func (s *Store) sweepIntents() error {
	ents, err := os.ReadDir(filepath.Join(s.casDir, commitsDir))
	if err != nil {
		return fmt.Errorf("sweeping interrupted commits: %w", err)
	}
	seen := map[string]bool{}
	for _, e := range ents {
		key := tempKey(e.Name())
		if key == "" {
			key = e.Name()
		}
		if !cas.ValidKey(key) || seen[key] {
			continue
		}
		seen[key] = true
		if err := s.sweepKey(key); err != nil {
			return fmt.Errorf("sweeping interrupted commit of %s: %w", key, err)
		}
	}
	return nil
}

// sweepKey cleans up after a dead committer or remover of key, unless a
// live one holds key's lock.
func (s *Store) sweepKey(key string) error {
	l, err := s.lockImage(key, false)
	if errors.Is(err, flock.ErrLocked) {
		return nil
	}
	if err != nil {
		return err
	}
	defer l.Close()
	err = s.undoKey(key, false)
	if errors.Is(err, errTreeBusy) {
		return nil // keep the intent: the next Open finishes
	}
	return err
}

// undoKey removes what a commit or removal of key left: when key has no
// row, its trees, manifest and blob; always its temps and its intent.
// key's lock is held. With wait unset, a tree locked by a renderer is left
// and errTreeBusy returned.
func (s *Store) undoKey(key string, wait bool) error {
	_, err := s.idx.Image(key)
	switch {
	case errors.Is(err, index.ErrNotFound):
		var keep map[string]bool
		if op, _ := os.ReadFile(s.intentPath(key)); strings.TrimSpace(string(op)) == intentRemoveKeepTrees {
			keep = map[string]bool{keepAllTrees: true}
		}
		if err := s.removeFiles(key, wait, keep); err != nil {
			if errors.Is(err, flock.ErrLocked) {
				return errTreeBusy
			}
			return err
		}
	case err != nil:
		return err
	}
	dirs := []string{
		filepath.Dir(s.cas.BlobPath(key)),
		filepath.Dir(s.cas.ManifestPath(key)),
		filepath.Join(s.casDir, commitsDir),
	}
	for _, d := range dirs {
		if err := removeTemps(d, func(k string) bool { return k == key }); err != nil {
			return err
		}
	}
	return s.removeIntent(key)
}

// tempKey returns the key an atomicfile temp name was written for
// (".tmp-<key>-<random>"), or "".
func tempKey(name string) string {
	rest, ok := strings.CutPrefix(name, atomicfile.TempPrefix)
	if !ok {
		return ""
	}
	n := len(cas.KeyPrefix) + cas.KeyHexLen
	if len(rest) <= n || rest[n] != '-' || !cas.ValidKey(rest[:n]) {
		return ""
	}
	return rest[:n]
}

// removeTemps removes the atomicfile temps in dir written for a key that
// match accepts.
func removeTemps(dir string, match func(key string) bool) error {
	return eachTemp(dir, func(key, path string) error {
		if !match(key) {
			return nil
		}
		return removeFile(path)
	})
}

// eachTemp calls fn with each atomicfile temp in dir written for a key.
func eachTemp(dir string, fn func(key, path string) error) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing temp files: %w", err)
	}
	for _, e := range ents {
		if k := tempKey(e.Name()); k != "" {
			if err := fn(k, filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing temp files: %w", err)
	}
	return nil
}

// gcTemps removes the temps that killed writers left beside blobs,
// manifests and intents. A temp is removed holding its key's lock, so
// those of live writers are spared.
func (s *Store) gcTemps() error {
	dirs := append(s.cas.KeyDirs(), filepath.Join(s.casDir, commitsDir))
	for _, d := range dirs {
		err := eachTemp(d, func(key, path string) error {
			l, err := s.lockImage(key, false)
			if errors.Is(err, flock.ErrLocked) {
				return nil
			}
			if err != nil {
				return err
			}
			defer l.Close()
			return removeFile(path)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
