package tarsafe

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/store/storetest"
)

func TestHostileArchivesAreRefused(t *testing.T) {
	for _, hc := range storetest.HostileCases() {
		t.Run(hc.Name, func(t *testing.T) {
			aci := storetest.RawTar(t, hc.Entries...)
			var ee *EntryError
			if _, err := Check(bytes.NewReader(aci), Limits{}); !errors.As(err, &ee) {
				t.Fatalf("Check: got %v, want *EntryError", err)
			}
			top := t.TempDir()
			dest := filepath.Join(top, "a", "b", "dest")
			if err := os.MkdirAll(dest, 0o755); err != nil {
				t.Fatal(err)
			}
			_, err := Extract(bytes.NewReader(aci), dest, Options{})
			if !errors.As(err, &ee) {
				t.Fatalf("Extract: got %v, want *EntryError", err)
			}
			// Nothing may appear outside dest.
			filepath.Walk(top, func(p string, fi os.FileInfo, err error) error {
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(dest, p)
				if !filepath.IsLocal(rel) && rel != "." && fi.Mode().IsRegular() {
					t.Errorf("file written outside the destination: %s", p)
				}
				return nil
			})
			if _, err := os.Lstat(filepath.Join(top, "a", "b", "dest", "other")); err == nil {
				t.Errorf("entry outside rootfs/ was written")
			}
		})
	}
}

func TestExtractPreservesMetadata(t *testing.T) {
	files := []storetest.File{
		{Name: "bin", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 7, Gid: 8},
		{Name: "bin/tool", Body: []byte("#!/bin/sh\n"), Mode: 0o4755, Uid: 10, Gid: 20},
		{Name: "bin/same", Typeflag: tar.TypeLink, Linkname: "bin/tool"},
		{Name: "lib", Typeflag: tar.TypeSymlink, Linkname: "/usr/lib"},
		{Name: "data", Typeflag: tar.TypeDir},
		{Name: "alias", Typeflag: tar.TypeSymlink, Linkname: "data"},
		{Name: "alias/through", Body: []byte("via an inside symlink")},
		{Name: "dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3},
		{Name: "fifo", Typeflag: tar.TypeFifo, Mode: 0o600},
		{Name: ".wh.ignored", Body: []byte("whiteouts are plain files")},
	}
	aci := storetest.BuildACI(t, "example.com/meta", nil, files...)
	dest := t.TempDir()
	res, err := Extract(bytes.NewReader(aci), dest, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Manifest, storetest.Manifest("example.com/meta", nil)) {
		t.Errorf("manifest not returned")
	}
	if b, err := os.ReadFile(filepath.Join(dest, "manifest")); err != nil || !bytes.Equal(b, res.Manifest) {
		t.Errorf("manifest file: %v", err)
	}
	rootfs := filepath.Join(dest, "rootfs")
	fi, err := os.Stat(filepath.Join(rootfs, "bin/tool"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSetuid == 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/tool mode %v, want setuid 0755", fi.Mode())
	}
	if !fi.ModTime().Equal(storetest.ModTime) {
		t.Errorf("bin/tool mtime %v, want %v", fi.ModTime(), storetest.ModTime)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if os.Geteuid() == 0 && (st.Uid != 10 || st.Gid != 20) {
		t.Errorf("bin/tool owned by %d:%d, want 10:20", st.Uid, st.Gid)
	}
	if st.Nlink != 2 {
		t.Errorf("bin/tool has %d links, want 2 (hardlink bin/same)", st.Nlink)
	}
	di, _ := os.Stat(filepath.Join(rootfs, "bin"))
	if di.Mode().Perm() != 0o750 || !di.ModTime().Equal(storetest.ModTime) {
		t.Errorf("bin: mode %v mtime %v", di.Mode(), di.ModTime())
	}
	if l, _ := os.Readlink(filepath.Join(rootfs, "lib")); l != "/usr/lib" {
		t.Errorf("lib -> %q, want /usr/lib", l)
	}
	if b, _ := os.ReadFile(filepath.Join(rootfs, "data/through")); string(b) != "via an inside symlink" {
		t.Errorf("write through an inside symlink: got %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(rootfs, "fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("fifo: %v %v", fi, err)
	}
	if os.Geteuid() == 0 {
		if fi, err := os.Lstat(filepath.Join(rootfs, "dev/null")); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			t.Errorf("dev/null: %v %v", fi, err)
		}
	} else if res.SkippedDevices != 1 {
		t.Errorf("skipped devices %d, want 1", res.SkippedDevices)
	}
	if _, err := os.Lstat(filepath.Join(rootfs, ".wh.ignored")); err != nil {
		t.Errorf("whiteout-named file: %v", err)
	}
}

func TestExtractLayersReplaceAndRootStops(t *testing.T) {
	dest := t.TempDir()
	outside := t.TempDir()
	lower := storetest.BuildACI(t, "example.com/lower", nil,
		storetest.File{Name: "f", Body: []byte("lower")},
		storetest.File{Name: "out", Typeflag: tar.TypeSymlink, Linkname: outside},
	)
	if _, err := Extract(bytes.NewReader(lower), dest, Options{}); err != nil {
		t.Fatal(err)
	}
	upper := storetest.BuildACI(t, "example.com/upper", nil, storetest.File{Name: "f", Body: []byte("upper")})
	if _, err := Extract(bytes.NewReader(upper), dest, Options{SkipManifest: true}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "rootfs/f")); string(b) != "upper" {
		t.Errorf("upper layer did not replace f: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "manifest")); !bytes.Contains(b, []byte("example.com/lower")) {
		t.Errorf("SkipManifest overwrote the manifest: %s", b)
	}
	// A later layer writing through the earlier layer's escaping symlink.
	evil := storetest.BuildACI(t, "example.com/evil", nil, storetest.File{Name: "out/pwned", Body: []byte("x")})
	_, err := Extract(bytes.NewReader(evil), dest, Options{SkipManifest: true})
	var ee *EntryError
	if !errors.As(err, &ee) {
		t.Fatalf("got %v, want *EntryError", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "pwned")); err == nil {
		t.Fatalf("file written through a symlink outside the destination")
	}
}

func TestCheckAcceptsValidImage(t *testing.T) {
	aci := storetest.BuildACI(t, "example.com/ok", map[string]string{"version": "1"},
		storetest.File{Name: "a/b/c", Body: []byte("12345")})
	res, err := Check(bytes.NewReader(aci), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != 5 || res.Manifest == nil || res.Entries != 3 {
		t.Errorf("result %+v", res)
	}
}

func TestRecordsFollowTheWalk(t *testing.T) {
	aci := storetest.BuildACI(t, "example.com/rec", nil,
		storetest.File{Name: "a/b", Body: []byte("12")},
		storetest.File{Name: "a-b", Body: []byte("345")},
		storetest.File{Name: "a.b/c", Typeflag: tar.TypeSymlink, Linkname: "../a"},
		storetest.File{Name: "-", Body: nil},
	)
	dest := t.TempDir()
	res, err := Extract(bytes.NewReader(aci), dest, Options{Record: true})
	if err != nil {
		t.Fatal(err)
	}
	var walked []string
	rootfs := filepath.Join(dest, "rootfs")
	filepath.WalkDir(rootfs, func(p string, _ os.DirEntry, err error) error {
		rel, _ := filepath.Rel(rootfs, p)
		walked = append(walked, rel)
		return err
	})
	var got []string
	for _, f := range res.Files {
		got = append(got, f.Path)
	}
	if strings.Join(got, " ") != strings.Join(walked, " ") {
		t.Fatalf("records %q, walk %q", got, walked)
	}
	// Layering over an existing rootfs: the records would miss the lower
	// layer, so none are given.
	res, err = Extract(bytes.NewReader(aci), dest, Options{Record: true, SkipManifest: true})
	if err != nil || res.Files != nil {
		t.Fatalf("layered extraction: records %v, err %v", res.Files, err)
	}
}

// An image's extended attributes reach the tree only from the safe set:
// overlayfs markers (trusted.overlay.*, user.overlay.*) and LSM labels in a
// shared lower layer would change what every pod of the image sees.
func TestExtractDropsUnsafeXattrs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("extended attributes are applied only when extracting as root")
	}
	// A valid VFS_CAP_REVISION_2 value granting CAP_NET_RAW, as ping has.
	capNetRaw := string([]byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	xattrs := map[string]string{
		"trusted.overlay.opaque": "y",
		"trusted.other":          "x",
		"user.overlay.redirect":  "/elsewhere",
		"security.selinux":       "system_u:object_r:bin_t:s0",
		"security.capability":    capNetRaw,
		"user.comment":           "kept",
	}
	dirXattrs := map[string]string{}
	for k, v := range xattrs {
		if k != "security.capability" { // file capabilities are for files
			dirXattrs[k] = v
		}
	}
	files := []storetest.File{
		{Name: "dir", Typeflag: tar.TypeDir, Xattrs: dirXattrs},
		{Name: "dir/ping", Body: []byte("binary"), Mode: 0o755, Xattrs: xattrs},
	}
	aci := storetest.BuildACI(t, "example.com/xattrs", nil, files...)
	dest := t.TempDir()
	if _, err := Extract(bytes.NewReader(aci), dest, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"dir", "dir/ping"} {
		path := filepath.Join(dest, "rootfs", p)
		got := listXattrs(t, path, xattrs["security.selinux"])
		want := []string{"user.comment"}
		if p == "dir/ping" {
			want = []string{"security.capability", "user.comment"}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: extended attributes %q, want %q", p, got, want)
		}
	}
}

// listXattrs lists the extended attributes of path, leaving out an LSM label
// that is not imageLabel (one the host's LSM gave the file itself).
func listXattrs(t *testing.T, path, imageLabel string) []string {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(path, buf)
	if err != nil {
		t.Fatalf("listing xattrs of %s: %v", path, err)
	}
	var names []string
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name == "" {
			continue
		}
		if name == "security.selinux" {
			val := make([]byte, 256)
			m, _ := unix.Lgetxattr(path, name, val)
			if string(bytes.TrimRight(val[:max(m, 0)], "\x00")) != imageLabel {
				continue
			}
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
