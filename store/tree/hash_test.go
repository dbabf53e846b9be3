package tree

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rkt/rkt/common/tarsafe"
	"github.com/rkt/rkt/store/storetest"
	"golang.org/x/sys/unix"
)

func layerOf(key string, aci []byte) Layer {
	return Layer{Key: key, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(aci)), nil }}
}

// richFiles exercises every kind of entry and the replacements an image
// may do within itself.
func richFiles() []storetest.File {
	big := bytes.Repeat([]byte("0123456789abcdef"), 200_000) // 3.2 MB: several copy buffers
	return []storetest.File{
		{Name: "etc", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 7, Gid: 8},
		{Name: "etc/passwd", Body: []byte("root:x:0:0::/root:/bin/sh\n"), Uid: 1, Gid: 2},
		{Name: "bin/tool", Body: []byte("#!/bin/sh\n"), Mode: 0o4755},
		{Name: "bin/same", Typeflag: tar.TypeLink, Linkname: "bin/tool"},
		{Name: "lib", Typeflag: tar.TypeSymlink, Linkname: "/usr/lib"},
		{Name: "rel", Typeflag: tar.TypeSymlink, Linkname: "etc/passwd"},
		{Name: "dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3},
		{Name: "dev/loop0", Typeflag: tar.TypeBlock, Mode: 0o660, Devmajor: 7, Devminor: 0},
		{Name: "run/fifo", Typeflag: tar.TypeFifo, Mode: 0o600},
		{Name: "a/b", Body: []byte("slash sorts first")},
		{Name: "a-b", Body: []byte("dash after the directory")},
		{Name: "a.b", Body: nil},
		{Name: "data/big", Body: big},
		{Name: "tmp", Typeflag: tar.TypeDir, Mode: 0o1777},
		{Name: "x", Body: []byte("a file that becomes a directory")},
		{Name: "x", Typeflag: tar.TypeDir, Mode: 0o700},
		{Name: "x/y", Body: []byte("inside")},
		{Name: "gone/deep/f", Body: []byte("a tree that becomes a file")},
		{Name: "gone", Body: []byte("now a file")},
		{Name: "twice", Body: []byte("first")},
		{Name: "twice", Body: []byte("second, longer")},
		{Name: "l2", Typeflag: tar.TypeSymlink, Linkname: "old"},
		{Name: "l2", Typeflag: tar.TypeSymlink, Linkname: "new"},
		{Name: "keep/empty", Typeflag: tar.TypeDir},
		{Name: "drop/empty", Typeflag: tar.TypeDir},
	}
}

func TestRecordsHashEqualsWalk(t *testing.T) {
	cases := []struct {
		name      string
		files     []storetest.File
		whitelist []string
		exact     bool // the extractor's records are used
	}{
		{"every kind of entry", richFiles(), nil, true},
		{"pathWhitelist", richFiles(), []string{"/etc/passwd", "/bin/same", "/rel", "/dev/null", "/a/b", "/keep/empty", "x/y"}, true},
		{"write through an inside symlink", []storetest.File{
			{Name: "data", Typeflag: tar.TypeDir},
			{Name: "alias", Typeflag: tar.TypeSymlink, Linkname: "data"},
			{Name: "alias/f", Body: []byte("lands in data/")},
		}, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			aci := storetest.BuildACI(t, "example.com/rich", nil, c.files...)
			res, err := tarsafe.Extract(bytes.NewReader(aci), t.TempDir(), tarsafe.Options{Record: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Files != nil; got != c.exact {
				t.Fatalf("records given: %v, want %v", got, c.exact)
			}
			stage := t.TempDir()
			sum, err := BuildHashed(context.Background(), stage, []Layer{layerOf("k", aci)}, c.whitelist)
			if err != nil {
				t.Fatal(err)
			}
			walked, size, err := Hash(stage)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Hash != walked || sum.Size != size {
				t.Fatalf("from records %s (%d bytes), from the walk %s (%d bytes)", sum.Hash, sum.Size, walked, size)
			}
			if !strings.HasPrefix(walked, HashVersion+"sha512-") {
				t.Errorf("hash %q lacks the version", walked)
			}
			// The same build without records leaves the same tree.
			plain := t.TempDir()
			if err := Build(context.Background(), plain, []Layer{layerOf("k", aci)}, c.whitelist); err != nil {
				t.Fatal(err)
			}
			if h, _, _ := Hash(plain); h != walked {
				t.Errorf("Build and BuildHashed left different trees")
			}
		})
	}
}

func TestRecordsOfReplacedEntries(t *testing.T) {
	aci := storetest.BuildACI(t, "example.com/rich", nil, richFiles()...)
	dest := t.TempDir()
	res, err := tarsafe.Extract(bytes.NewReader(aci), dest, tarsafe.Options{Record: true})
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]tarsafe.FileRecord{}
	for _, f := range res.Files {
		byPath[f.Path] = f
	}
	for _, p := range []string{"gone/deep", "gone/deep/f", "drop"} {
		if _, ok := byPath[p]; ok && p != "drop" {
			t.Errorf("%s recorded after its parent was replaced", p)
		}
	}
	if f := byPath["twice"]; f.Size != int64(len("second, longer")) {
		t.Errorf("twice: size %d", f.Size)
	}
	if f := byPath["l2"]; f.Link != "new" {
		t.Errorf("l2 -> %q, want new", f.Link)
	}
	if byPath["bin/same"].SHA256 != byPath["bin/tool"].SHA256 || byPath["bin/same"].Mode != byPath["bin/tool"].Mode {
		t.Errorf("hardlink record differs from its target")
	}
	if os.Geteuid() != 0 {
		if _, ok := byPath["dev/null"]; ok || res.SkippedDevices != 2 {
			t.Errorf("skipped devices: %d, dev/null recorded: %v", res.SkippedDevices, ok)
		}
	}
}

func TestLayeredRenderHashesTheOverlay(t *testing.T) {
	lower := storetest.BuildACI(t, "example.com/lower", nil,
		storetest.File{Name: "etc/conf", Body: []byte("lower")},
		storetest.File{Name: "etc/only-lower", Body: []byte("kept")},
		storetest.File{Name: "opt/dir/f", Body: []byte("replaced by a symlink above")},
	)
	upper := storetest.BuildACI(t, "example.com/upper", nil,
		storetest.File{Name: "etc/conf", Body: []byte("upper")},
		storetest.File{Name: "opt/dir", Typeflag: tar.TypeSymlink, Linkname: "/elsewhere"},
		storetest.File{Name: "bin/sh", Body: []byte("shell"), Mode: 0o755},
	)
	layers := []Layer{layerOf("lower", lower), layerOf("upper", upper)}
	for _, wl := range [][]string{nil, {"/etc/conf", "/bin/sh"}} {
		stage := t.TempDir()
		sum, err := BuildHashed(context.Background(), stage, layers, wl)
		if err != nil {
			t.Fatal(err)
		}
		walked, size, err := Hash(stage)
		if err != nil || sum.Hash != walked || sum.Size != size {
			t.Fatalf("whitelist %v: sum %+v, walk %s %d %v", wl, sum, walked, size, err)
		}
		if b, _ := os.ReadFile(filepath.Join(stage, "rootfs/etc/conf")); string(b) != "upper" {
			t.Errorf("upper layer not on top: %q", b)
		}
		_, err = os.Lstat(filepath.Join(stage, "rootfs/etc/only-lower"))
		if (wl == nil) != (err == nil) {
			t.Errorf("whitelist %v: etc/only-lower: %v", wl, err)
		}
		only := t.TempDir()
		one, err := BuildHashed(context.Background(), only, layers[1:], wl)
		if err != nil {
			t.Fatal(err)
		}
		if wl == nil && one.Hash == sum.Hash {
			t.Errorf("the lower layer does not count in the hash")
		}
	}
}

// legacyHash is the first tree hash format, as trees rendered before the
// format was versioned recorded it.
func legacyHash(t *testing.T, dir string) string {
	h := sha512.New()
	fileSum := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s := sha512.Sum512(b)
		return hex.EncodeToString(s[:])
	}
	fmt.Fprintf(h, "manifest %s\n", fileSum(filepath.Join(dir, "manifest")))
	rootfs := filepath.Join(dir, "rootfs")
	err := filepath.WalkDir(rootfs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		rel, _ := filepath.Rel(rootfs, p)
		extra, size := "", int64(0)
		switch {
		case fi.Mode().IsRegular():
			extra, size = fileSum(p), fi.Size()
		case fi.Mode()&fs.ModeSymlink != 0:
			extra, _ = os.Readlink(p)
		case fi.Mode()&(fs.ModeDevice|fs.ModeCharDevice) != 0:
			extra = fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		fmt.Fprintf(h, "%q %o %d %d %d %q\n", rel, uint32(fi.Mode()), st.Uid, st.Gid, size, extra)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return "sha512-" + hex.EncodeToString(h.Sum(nil))
}

func TestVerifyHashFormats(t *testing.T) {
	top := t.TempDir()
	s, err := New(filepath.Join(top, "tree"), filepath.Join(top, "locks"))
	if err != nil {
		t.Fatal(err)
	}
	key := "sha512-" + strings.Repeat("ab", 32)
	id := ID(key)
	aci := storetest.BuildACI(t, "example.com/v", nil, richFiles()...)
	stage := filepath.Join(top, "stage")
	os.Mkdir(stage, 0o755)
	sum, err := BuildHashed(context.Background(), stage, []Layer{layerOf(key, aci)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.InstallHashed(stage, id, key, sum); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(id); err != nil {
		t.Fatalf("fresh tree: %v", err)
	}
	hashPath := filepath.Join(s.Path(id), hashFile)
	passwd := filepath.Join(s.Path(id), "rootfs/etc/passwd")

	// A tree recorded in the first format verifies and is upgraded.
	os.WriteFile(hashPath, []byte(legacyHash(t, s.Path(id))+"\n"), 0o640)
	if err := s.Verify(id); err != nil {
		t.Fatalf("tree with a first-format hash: %v", err)
	}
	if b, _ := os.ReadFile(hashPath); strings.TrimSpace(string(b)) != sum.Hash {
		t.Errorf("hash not upgraded: %s", b)
	}

	// A corrupt tree with a first-format hash is still corrupt.
	os.WriteFile(hashPath, []byte(legacyHash(t, s.Path(id))+"\n"), 0o640)
	os.WriteFile(passwd, []byte("changed"), 0o644)
	if err := s.Verify(id); !errors.Is(err, ErrTreeCorrupt) {
		t.Fatalf("corrupt tree with a first-format hash: %v", err)
	}

	// A current-format hash catches the change too.
	os.WriteFile(hashPath, []byte(sum.Hash+"\n"), 0o640)
	if err := s.Verify(id); !errors.Is(err, ErrTreeCorrupt) {
		t.Fatalf("corrupt tree: %v", err)
	}

	// A format from elsewhere is not corruption.
	os.WriteFile(hashPath, []byte("v9:blake3-00\n"), 0o640)
	if err := s.Verify(id); !errors.Is(err, ErrUnknownHash) || errors.Is(err, ErrTreeCorrupt) {
		t.Fatalf("unknown format: %v", err)
	}
}

// TestLayeredRecordsEqualWalk: the description carried across layers and
// whiteouts (tarsafe.Records) hashes to what a walk of the tree finds, and
// is given up (for the walk) exactly when a write or a removal went
// through a symlink.
func TestLayeredRecordsEqualWalk(t *testing.T) {
	lower := []storetest.File{
		{Name: "etc", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "etc/conf", Body: []byte("lower")},
		{Name: "etc/linked", Typeflag: tar.TypeLink, Linkname: "etc/conf"},
		{Name: "var/cache/a", Body: []byte("cached")},
		{Name: "var/cache/sub/b", Body: []byte("cached too")},
		{Name: "opaque/old", Body: []byte("hidden by an opaque whiteout")},
		{Name: "opaque/keep-dir", Typeflag: tar.TypeDir},
		{Name: "becomes-file/f", Body: []byte("a tree replaced by a file")},
		{Name: "becomes-dir", Body: []byte("a file replaced by a directory")},
		{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "etc/conf"},
		{Name: "data", Typeflag: tar.TypeDir},
		{Name: "data/f", Body: []byte("reached through alias")},
		{Name: "alias", Typeflag: tar.TypeSymlink, Linkname: "data"},
	}
	upper := []storetest.File{
		{Name: "etc", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 3, Gid: 4},
		{Name: "etc/conf", Body: []byte("upper, longer")},
		{Name: "opaque/new", Body: []byte("written by the upper layer")},
		{Name: "becomes-file", Body: []byte("now a file")},
		{Name: "becomes-dir", Typeflag: tar.TypeDir, Mode: 0o711},
		{Name: "becomes-dir/x", Body: []byte("inside")},
		{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "var"},
		{Name: "bin/tool", Body: []byte("tool"), Mode: 0o755},
		{Name: "bin/same", Typeflag: tar.TypeLink, Linkname: "bin/tool"},
	}
	cases := []struct {
		name      string
		whiteouts []string
		extra     []storetest.File
		exact     bool
	}{
		{"overwrites and replacements", nil, nil, true},
		{"whiteouts of a file, a tree, an opaque dir and nothing", []string{"/var/cache/sub", "/etc/linked", "/opaque/", "/not/there"}, nil, true},
		{"opaque rootfs", []string{"/"}, nil, true},
		{"whiteout through a symlink of the lower layer", []string{"/alias/f"}, nil, false},
		{"opaque whiteout of a symlink", []string{"/alias/"}, nil, false},
		{"write through a symlink of the lower layer", nil, []storetest.File{{Name: "alias/g", Body: []byte("lands in data/")}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			layers := []Layer{
				layerOf("lower", storetest.BuildACI(t, "oci-layer/lower", nil, lower...)),
				layerOf("upper", storetest.BuildACI(t, "oci-layer/upper", nil, append(append([]storetest.File{}, upper...), c.extra...)...)),
			}
			layers[1].Whiteouts = c.whiteouts
			stage := t.TempDir()
			recs := tarsafe.NewRecords()
			for i, l := range layers {
				if err := applyWhiteouts(filepath.Join(stage, tarsafe.RootfsName), l.Whiteouts, recs); err != nil {
					t.Fatal(err)
				}
				rc, _ := l.Open()
				if _, err := tarsafe.Extract(rc, stage, tarsafe.Options{SkipManifest: i == 0, Records: recs}); err != nil {
					t.Fatal(err)
				}
			}
			files := recs.Files()
			if got := files != nil; got != c.exact {
				t.Fatalf("records exact: %v, want %v", got, c.exact)
			}
			walked, size, err := Hash(stage)
			if err != nil {
				t.Fatal(err)
			}
			if files != nil {
				manifest, err := os.ReadFile(filepath.Join(stage, tarsafe.ManifestName))
				if err != nil {
					t.Fatal(err)
				}
				if h, n := HashFiles(manifest, files); h != walked || n != size {
					t.Fatalf("from records %s (%d bytes), from the walk %s (%d bytes)", h, n, walked, size)
				}
			}
			// BuildHashed gives the walk's hash either way.
			sum, err := BuildHashed(context.Background(), t.TempDir(), layers, nil)
			if err != nil || sum.Hash != walked || sum.Size != size {
				t.Fatalf("BuildHashed: %+v %v, walk %s %d", sum, err, walked, size)
			}
			if b, _ := os.ReadFile(filepath.Join(stage, "rootfs/etc/linked")); c.whiteouts == nil && string(b) != "lower" {
				t.Errorf("a hardlink of the lower layer follows the replaced file: %q", b)
			}
		})
	}
}
