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
