package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEnsureMtab(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string // the link's target, "" for no link, "file" for the image's file
	}{
		{"etc-dir", func(t *testing.T, dir string) { mkdir(t, filepath.Join(dir, "etc")) }, "../proc/self/mounts"},
		{"no-etc", func(t *testing.T, dir string) {}, ""},
		{"image-mtab-kept", func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, "etc"))
			if err := os.WriteFile(filepath.Join(dir, "etc", "mtab"), []byte("image's"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "file"},
		{"etc-escapes", func(t *testing.T, dir string) {
			// An /etc leading out of the rootfs is not followed.
			if err := os.Symlink(t.TempDir(), filepath.Join(dir, "etc")); err != nil {
				t.Fatal(err)
			}
		}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			c.setup(t, dir)
			root, err := os.OpenRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			if err := ensureMtab(root); err != nil {
				t.Fatal(err)
			}
			target, err := os.Readlink(filepath.Join(dir, "etc", "mtab"))
			switch c.want {
			case "":
				if err == nil {
					t.Errorf("/etc/mtab -> %q, want none", target)
				}
			case "file":
				if b, _ := os.ReadFile(filepath.Join(dir, "etc", "mtab")); string(b) != "image's" {
					t.Errorf("the image's /etc/mtab was replaced: %q", b)
				}
			default:
				if target != c.want {
					t.Errorf("/etc/mtab -> %q (%v), want %q", target, err, c.want)
				}
			}
		})
	}
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}
