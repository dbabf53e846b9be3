package tests

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestImageOverwriteGuards: `image extract/render --overwrite` must not
// delete through a mount point under the output directory, nor remove rkt's
// own directories or a system directory; it refuses before removing
// anything.
func TestImageOverwriteGuards(t *testing.T) {
	t.Parallel()
	e, im, sign := signedSetup(t)
	e.fetchID(e.writeSigned("app.aci", im.aci, sign(im.aci)))

	// A bind mount deep under the output directory.
	src := filepath.Join(e.base, "precious")
	out := filepath.Join(e.base, "out")
	mnt := filepath.Join(out, "sub", "mnt")
	for _, d := range []string{src, mnt} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	keep := filepath.Join(src, "keep")
	if err := os.WriteFile(keep, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	own := filepath.Join(out, "own-file")
	if err := os.WriteFile(own, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(src, mnt, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	link := filepath.Join(e.base, "link-to-out")
	if err := os.Symlink(out, link); err != nil {
		t.Fatal(err)
	}

	for _, cmd := range []string{"extract", "render"} {
		for _, dir := range []string{out, link + "/sub"} {
			_, stderr := e.fails(254, "image", cmd, "--overwrite", im.id, dir)
			assertMentions(t, "image "+cmd+" --overwrite over a mount", stderr, "mount point", "refusing")
		}
	}
	if b, err := os.ReadFile(keep); err != nil || string(b) != "mine\n" {
		t.Errorf("the bind-mounted file: %q, %v; want it untouched", b, err)
	}
	if _, err := os.Stat(own); err != nil {
		t.Errorf("the output directory was partly removed before the refusal: %v", err)
	}

	// rkt's own directories and system directories.
	dataLink := filepath.Join(e.base, "link-to-data")
	if err := os.Symlink(e.dataDir, dataLink); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{e.dataDir, e.base, dataLink, e.localConfig, e.systemConfig, "/", "/usr", "/etc"} {
		_, stderr := e.fails(254, "image", "extract", "--rootfs-only", "--overwrite", im.id, dir)
		assertMentions(t, "image extract --overwrite "+dir, stderr, "refusing", "protected")
	}
	e.assertStore(im.id)
	for _, d := range []string{e.localConfig, e.systemConfig, "/usr/bin", "/etc"} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}

	// An ordinary directory is still replaced.
	plain := filepath.Join(e.base, "plain")
	if err := os.MkdirAll(filepath.Join(plain, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.ok("image", "extract", "--overwrite", im.id, plain)
	if _, err := os.Stat(filepath.Join(plain, "old")); err == nil {
		t.Error("extract --overwrite left the old content of a plain directory")
	}
}
