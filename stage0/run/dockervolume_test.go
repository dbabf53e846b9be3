package run

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDirInRootfs: only a real directory of the rootfs, reached without
// symlinks, is a volume's source.
func TestDirInRootfs(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	for _, d := range []string{"var/data", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "etc/file"), nil, 0o644)
	os.Symlink(outside, filepath.Join(root, "escape"))
	os.Symlink("var", filepath.Join(root, "inside"))
	for path, want := range map[string]string{
		"/var/data":       filepath.Join(root, "var/data"),
		"var/data/":       filepath.Join(root, "var/data"),
		"/../var/data":    filepath.Join(root, "var/data"),
		"/missing":        "",
		"/etc/file":       "",
		"/escape":         "",
		"/inside/data":    "",
		"/":               "",
		"/var/data/../..": "",
	} {
		got, err := dirInRootfs(root, path)
		if err != nil || got != want {
			t.Errorf("dirInRootfs(%q) = %q, %v; want %q", path, got, err, want)
		}
	}
}
