package store

import (
	"fmt"
	"path/filepath"

	"github.com/rkt/rkt/common/flock"
)

// TreeDir is the directory of rendered tree id in the store under
// dataDir, for code that uses a tree without opening the store (mounting
// a prepared pod's overlay). It is the directory TreePath names.
func TreeDir(dataDir, id string) string { return filepath.Join(dataDir, "cas", "tree", id) }

// HoldTrees takes the shared lock of each tree in ids, waiting for a
// render in progress, and checks that each is rendered: while held, no gc
// removes them. release drops the locks; on error none is held.
func (s *Store) HoldTrees(ids []string) (release func(), err error) {
	var held []*flock.Lock
	release = func() {
		for _, l := range held {
			l.Close()
		}
	}
	for _, id := range ids {
		l, err := s.trees.Lock(id, flock.Shared, true)
		if err != nil {
			release()
			return nil, err
		}
		held = append(held, l)
		if !s.trees.IsRendered(id) {
			release()
			return nil, fmt.Errorf("tree %s: %w", id, ErrNotFound)
		}
	}
	return release, nil
}
