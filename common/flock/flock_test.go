package flock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestExclusiveExcludes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	a, err := LockPath(p, Exclusive, false, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LockPath(p, Shared, false, true); !errors.Is(err, ErrLocked) {
		t.Fatalf("shared lock while exclusive held: err = %v, want ErrLocked", err)
	}
	if held, err := Held(p); err != nil || !held {
		t.Fatalf("Held = %v, %v; want true", held, err)
	}
	a.Close()
	b, err := LockPath(p, Shared, false, true)
	if err != nil {
		t.Fatalf("shared lock after release: %v", err)
	}
	c, err := LockPath(p, Shared, false, true)
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	if _, err := LockPath(p, Exclusive, false, true); !errors.Is(err, ErrLocked) {
		t.Fatalf("exclusive while shared held: err = %v, want ErrLocked", err)
	}
	b.Close()
	c.Close()
	if held, err := Held(p); err != nil || held {
		t.Fatalf("Held after release = %v, %v; want false", held, err)
	}
}

func TestDirectoryLock(t *testing.T) {
	d := t.TempDir()
	l, err := LockPath(d, Exclusive, false, false)
	if err != nil {
		t.Fatalf("locking a directory: %v", err)
	}
	defer l.Close()
	if _, err := LockPath(d, Exclusive, false, false); !errors.Is(err, ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
}

func TestMissingWithoutCreate(t *testing.T) {
	_, err := LockPath(filepath.Join(t.TempDir(), "nope"), Shared, false, false)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want ErrNotExist", err)
	}
}
