package rmguard

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCheckProtected(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	if err := os.MkdirAll(filepath.Join(data, "cas"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link-to-data")
	if err := os.Symlink(data, link); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(base, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	protected := []string{data, filepath.Join(base, "no-such-config")}
	for _, tc := range []struct {
		dir  string
		want error
	}{
		{"/", ErrProtected},
		{"/usr", ErrProtected},
		{"/etc/", ErrProtected},
		{"/usr/../var", ErrProtected},
		{base, ErrProtected},                       // contains the data dir
		{data, ErrProtected},                       // is the data dir
		{filepath.Join(data, "cas"), ErrProtected}, // inside it
		{link, ErrProtected},                       // a symlink to it
		{filepath.Join(link, "cas"), ErrProtected}, // through a symlink
		{out, nil},
		{filepath.Join(base, "absent"), nil},
	} {
		err := Check(tc.dir, protected)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("Check(%s) = %v, want %v", tc.dir, err, tc.want)
		}
	}
}

func TestCheckMountPoint(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("bind mounts need root")
	}
	base, src, out, mnt := mountDirs(t)
	if err := unix.Mount(src, mnt, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	link := filepath.Join(base, "link")
	if err := os.Symlink(out, link); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{out, mnt, filepath.Join(link, "deep")} {
		if err := Check(dir, nil); !errors.Is(err, ErrMountPoint) {
			t.Errorf("Check(%s) = %v, want %v", dir, err, ErrMountPoint)
		}
	}
	if err := Check(src, nil); err != nil {
		t.Errorf("Check(%s) = %v, want nil", src, err)
	}

	// A file bind-mounted onto a file.
	srcFile, dstFile := filepath.Join(base, "src-file"), filepath.Join(base, "dst-file")
	for _, f := range []string{srcFile, dstFile} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount(srcFile, dstFile, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dstFile, unix.MNT_DETACH) })
	if err := Check(dstFile, nil); !errors.Is(err, ErrMountPoint) {
		t.Errorf("Check(%s) = %v, want %v", dstFile, err, ErrMountPoint)
	}
}

// TestRemoveAllStopsAtAMountMadeAfterCheck: a bind mount made under the
// directory after Check passed (the window --overwrite leaves between
// checking and removing) stops RemoveAll, and the mounted files survive.
func TestRemoveAllStopsAtAMountMadeAfterCheck(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("bind mounts need root")
	}
	_, src, out, mnt := mountDirs(t)
	canary := filepath.Join(src, "canary")
	if err := os.WriteFile(canary, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Check(out, nil); err != nil {
		t.Fatalf("Check before the mount: %v", err)
	}
	if err := unix.Mount(src, mnt, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })

	if err := RemoveAll(out); !errors.Is(err, ErrMountPoint) {
		t.Fatalf("RemoveAll = %v, want %v", err, ErrMountPoint)
	}
	if b, err := os.ReadFile(canary); err != nil || string(b) != "keep me" {
		t.Fatalf("the mounted directory's file was touched: %q, %v", b, err)
	}
	// The mount point itself is refused too.
	if err := RemoveAll(mnt); !errors.Is(err, ErrMountPoint) {
		t.Fatalf("RemoveAll(mount point) = %v, want %v", err, ErrMountPoint)
	}
	if _, err := os.Stat(canary); err != nil {
		t.Fatalf("canary: %v", err)
	}

	// Without the mount, the same tree goes entirely, symlinks removed
	// and not followed.
	if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(src, filepath.Join(out, "link")); err != nil {
		t.Fatal(err)
	}
	if err := RemoveAll(out); err != nil {
		t.Fatalf("RemoveAll without a mount: %v", err)
	}
	if _, err := os.Lstat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s still there: %v", out, err)
	}
	if _, err := os.Stat(canary); err != nil {
		t.Fatalf("the symlink's target was removed: %v", err)
	}
	if err := RemoveAll(out); err != nil {
		t.Fatalf("RemoveAll of a missing directory: %v", err)
	}
}

// mountDirs makes, in a temp directory base, a directory src to mount and
// a tree out holding the empty directory mnt to mount it on.
func mountDirs(t *testing.T) (base, src, out, mnt string) {
	t.Helper()
	base = t.TempDir()
	src = filepath.Join(base, "src")
	out = filepath.Join(base, "out")
	mnt = filepath.Join(out, "deep", "mnt")
	for _, d := range []string{src, mnt} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return base, src, out, mnt
}
