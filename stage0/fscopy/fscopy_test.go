package fscopy

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sample makes a tree with one of every kind of entry Tree and Tar keep.
func sample(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "bin"), 0o755))
	must(os.WriteFile(filepath.Join(src, "bin", "tool"), []byte("#!/bin/sh\n"), 0o755))
	must(unix.Chmod(filepath.Join(src, "bin", "tool"), 0o4755))
	must(os.Link(filepath.Join(src, "bin", "tool"), filepath.Join(src, "bin", "alias")))
	must(os.Symlink("tool", filepath.Join(src, "bin", "link")))
	must(os.Symlink("/etc/passwd", filepath.Join(src, "escape")))
	must(unix.Mkfifo(filepath.Join(src, "fifo"), 0o620))
	must(os.Mkdir(filepath.Join(src, "tmp"), 0o1777))
	must(unix.Chmod(filepath.Join(src, "tmp"), 0o1777))
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	must(os.Chtimes(filepath.Join(src, "bin", "tool"), old, old))
	must(os.Chtimes(filepath.Join(src, "bin"), old, old))
	if os.Geteuid() == 0 {
		must(unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
		must(os.Lchown(filepath.Join(src, "bin", "tool"), 1234, 5678))
		must(unix.Chmod(filepath.Join(src, "bin", "tool"), 0o4755))
	}
	return src
}

func lstat(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t)
}

func TestTree(t *testing.T) {
	src := sample(t)
	dst := filepath.Join(t.TempDir(), "dst")
	if err := Tree(src, dst); err != nil {
		t.Fatal(err)
	}
	tool, alias := lstat(t, filepath.Join(dst, "bin", "tool")), lstat(t, filepath.Join(dst, "bin", "alias"))
	if tool.Ino != alias.Ino {
		t.Error("hard link copied as two files")
	}
	if tool.Mode&0o7777 != 0o4755 {
		t.Errorf("tool mode %o, want 4755", tool.Mode&0o7777)
	}
	if want := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC).Unix(); tool.Mtim.Sec != want || lstat(t, filepath.Join(dst, "bin")).Mtim.Sec != want {
		t.Error("modification times not kept")
	}
	if l, _ := os.Readlink(filepath.Join(dst, "escape")); l != "/etc/passwd" {
		t.Errorf("symlink %q, want it copied as a link", l)
	}
	if lstat(t, filepath.Join(dst, "fifo")).Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Error("fifo not kept")
	}
	if lstat(t, filepath.Join(dst, "tmp")).Mode&0o7777 != 0o1777 {
		t.Error("sticky directory mode not kept")
	}
	if os.Geteuid() == 0 {
		if tool.Uid != 1234 || tool.Gid != 5678 {
			t.Errorf("owner %d:%d, want 1234:5678", tool.Uid, tool.Gid)
		}
		if st := lstat(t, filepath.Join(dst, "null")); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
			t.Error("device node not kept")
		}
	}
	if err := Tree(src, dst); err == nil {
		t.Error("copy onto an existing destination accepted")
	}
}

func TestTar(t *testing.T) {
	src := sample(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := Tar(tw, src, "rootfs"); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	got := map[string]*tar.Header{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
	}
	for name, typ := range map[string]byte{"rootfs/": tar.TypeDir, "rootfs/bin/": tar.TypeDir, "rootfs/bin/link": tar.TypeSymlink, "rootfs/fifo": tar.TypeFifo, "rootfs/tmp/": tar.TypeDir} {
		if h := got[name]; h == nil || h.Typeflag != typ {
			t.Errorf("%s: %+v, want type %c", name, h, typ)
		}
	}
	// One of the two names of the hard link holds the data, the other links to it.
	a, b := got["rootfs/bin/alias"], got["rootfs/bin/tool"]
	if a == nil || b == nil || a.Typeflag != tar.TypeReg || b.Typeflag != tar.TypeLink || b.Linkname != "rootfs/bin/alias" {
		t.Errorf("hard link: alias %+v, tool %+v", a, b)
	}
	if a != nil && (a.Mode&0o7777 != 0o4755 || a.Size != int64(len("#!/bin/sh\n"))) {
		t.Errorf("tool: mode %o size %d", a.Mode, a.Size)
	}
	if os.Geteuid() == 0 {
		if h := got["rootfs/null"]; h == nil || h.Typeflag != tar.TypeChar || h.Devmajor != 1 || h.Devminor != 3 {
			t.Errorf("device: %+v", h)
		}
		if a != nil && (a.Uid != 1234 || a.Gid != 5678) {
			t.Errorf("owner %d:%d", a.Uid, a.Gid)
		}
	}
}
