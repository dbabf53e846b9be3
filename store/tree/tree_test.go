package tree

import (
	"os"
	"path/filepath"
	"testing"
)

func TestHashSeesContentModeAndLinks(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "rootfs/etc"), 0o755)
	os.WriteFile(filepath.Join(dir, "manifest"), []byte("{}"), 0o644)
	f := filepath.Join(dir, "rootfs/etc/f")
	os.WriteFile(f, []byte("a"), 0o644)
	os.Symlink("etc/f", filepath.Join(dir, "rootfs/l"))
	base, size, err := Hash(dir)
	if err != nil || size != 1 {
		t.Fatalf("%s %d %v", base, size, err)
	}
	changes := []struct {
		name         string
		change, undo func()
	}{
		{"content", func() { os.WriteFile(f, []byte("b"), 0o644) }, func() { os.WriteFile(f, []byte("a"), 0o644) }},
		{"mode", func() { os.Chmod(f, 0o600) }, func() { os.Chmod(f, 0o644) }},
		{"symlink", func() {
			os.Remove(filepath.Join(dir, "rootfs/l"))
			os.Symlink("/etc/f", filepath.Join(dir, "rootfs/l"))
		},
			func() { os.Remove(filepath.Join(dir, "rootfs/l")); os.Symlink("etc/f", filepath.Join(dir, "rootfs/l")) }},
		{"new file", func() { os.WriteFile(filepath.Join(dir, "rootfs/n"), nil, 0o644) }, func() { os.Remove(filepath.Join(dir, "rootfs/n")) }},
		{"manifest", func() { os.WriteFile(filepath.Join(dir, "manifest"), []byte("[]"), 0o644) }, func() { os.WriteFile(filepath.Join(dir, "manifest"), []byte("{}"), 0o644) }},
	}
	for _, c := range changes {
		c.change()
		got, _, err := Hash(dir)
		if err != nil || got == base {
			t.Errorf("%s: hash unchanged (%v)", c.name, err)
		}
		c.undo()
		if got, _, _ := Hash(dir); got != base {
			t.Errorf("%s: hash not restored after undo", c.name)
		}
	}
}

func TestIDs(t *testing.T) {
	k := "sha512-" + "ab" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
	if ID(k) != "deps-"+k || !ValidID(ID(k)) {
		t.Fatalf("ID of one key: %s", ID(k))
	}
	if c := ID(k, k); c == ID(k) || !ValidID(c) {
		t.Fatalf("ID of a chain: %s", c)
	}
	if ValidID("deps-sha512-../../x") {
		t.Fatal("unsafe ID accepted")
	}
}

// TestDirSize: every entry counts with its lstat size, the directory
// itself, subdirectories and symlinks included, a hard-linked file once.
func TestDirSize(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a/b/f"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "a/b/f"), filepath.Join(dir, "hard")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a/b/f-twelve", filepath.Join(dir, "sym")); err != nil {
		t.Fatal(err)
	}
	var dirs int64
	for _, d := range []string{".", "a", "a/b"} {
		fi, err := os.Lstat(filepath.Join(dir, d))
		if err != nil {
			t.Fatal(err)
		}
		dirs += fi.Size()
	}
	got, err := DirSize(dir)
	if want := dirs + 1000 + int64(len("a/b/f-twelve")); err != nil || got != want {
		t.Errorf("DirSize = %d, %v; want %d", got, err, want)
	}
}
