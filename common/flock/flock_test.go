package flock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
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

// TestLockFileModeIgnoresUmask: a lock file LockPath creates is 0660
// whatever the umask (members of the data dir's group lock it too); an
// existing one keeps its mode.
func TestLockFileModeIgnoresUmask(t *testing.T) {
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	dir := t.TempDir()
	p := filepath.Join(dir, "new")
	l, err := LockPath(p, Exclusive, false, true)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("new lock file: %v %v, want mode 0660", fi.Mode(), err)
	}
	q := filepath.Join(dir, "old")
	if err := os.WriteFile(q, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err = LockPath(q, Shared, false, true)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if fi, err := os.Stat(q); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("existing lock file: %v %v, want its mode 0600 kept", fi.Mode(), err)
	}
}
