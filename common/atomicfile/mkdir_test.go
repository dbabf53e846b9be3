package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMkdirAllIgnoresUmask: every directory made gets the mode asked for,
// under a umask that would take the group's bits away, and a setgid
// parent's bit is kept; an existing directory is left alone.
func TestMkdirAllIgnoresUmask(t *testing.T) {
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	base := t.TempDir()
	if err := os.Chmod(base, fs.ModeSetgid|0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(base, "old"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a/b/c", "old/d"} {
		if err := MkdirAll(filepath.Join(base, p), 0o770); err != nil {
			t.Fatal(err)
		}
	}
	for p, want := range map[string]fs.FileMode{
		"a":     fs.ModeSetgid | 0o770,
		"a/b":   fs.ModeSetgid | 0o770,
		"a/b/c": fs.ModeSetgid | 0o770,
		"old":   fs.ModeSetgid | 0o700,
		"old/d": fs.ModeSetgid | 0o770,
	} {
		fi, err := os.Stat(filepath.Join(base, p))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() &^ fs.ModeDir; got != want {
			t.Errorf("%s: mode %v, want %v", p, got, want)
		}
	}
	f := filepath.Join(base, "file")
	os.WriteFile(f, nil, 0o600)
	if err := MkdirAll(f, 0o770); err == nil {
		t.Errorf("MkdirAll over a file: no error")
	}
}
