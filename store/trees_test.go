package store

import (
	"errors"
	"testing"

	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/store/storetest"
	"github.com/rkt/rkt/store/tree"
)

func TestHoldTrees(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	aci := storetest.BuildACI(t, "example.com/app", map[string]string{"os": "linux"},
		storetest.File{Name: "bin/app", Body: []byte("app"), Mode: 0o755})
	key, err := ingest(s, aci, ImportMeta{})
	if err != nil {
		t.Fatal(err)
	}
	id := tree.ID(key)
	if s.TreePath(id) != TreeDir(dir, id) {
		t.Errorf("TreeDir %s differs from the store's TreePath %s", TreeDir(dir, id), s.TreePath(id))
	}

	release, err := s.HoldTrees([]string{id})
	if err != nil {
		t.Fatal(err)
	}
	// Held shared: a remover (exclusive) cannot take it.
	if _, err := s.trees.Lock(id, flock.Exclusive, false); err == nil {
		t.Error("tree lock not held by HoldTrees")
	}
	release()
	l, err := s.trees.Lock(id, flock.Exclusive, false)
	if err != nil {
		t.Fatalf("tree lock still held after release: %v", err)
	}
	l.Close()

	missing := tree.ID("sha512-" + key[len(key)-64:len(key)-1] + "0")
	if missing == id {
		missing = tree.ID("sha512-" + key[len(key)-64:len(key)-1] + "1")
	}
	if _, err := s.HoldTrees([]string{id, missing}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("holding a tree never rendered: %v, want ErrNotFound", err)
	}
	l, err = s.trees.Lock(id, flock.Exclusive, false)
	if err != nil {
		t.Fatalf("a failed HoldTrees left a lock held: %v", err)
	}
	l.Close()
}
