package tests

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rkt/rkt/store/storetest"
)

// TestFetchHostileTars: signed by a trusted root key, each archive tries to
// leave the image layout or the destination. Every one must be refused with
// nothing left behind: no image, no blob, no temp file, nothing written
// outside.
//
// The cases of storetest.HostileCases whose targets are host paths (/abs,
// /etc, /etc/passwd) are replayed against a victim directory of this test
// instead, so a broken extractor shows up as a file there and never touches
// the host's /etc.
func TestFetchHostileTars(t *testing.T) {
	t.Parallel()
	victimRoot, err := os.MkdirTemp(suiteDir, "victim-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(victimRoot) })

	type hostile struct {
		name    string
		entries []storetest.File
	}
	var cases []hostile
	for _, h := range storetest.HostileCases() {
		switch h.Name {
		case "absolute", "symlink-abs-then-write", "hardlink-abs":
			continue // replayed below against the victim dir
		}
		cases = append(cases, hostile{h.Name, h.Entries})
	}
	head := func(es ...storetest.File) []storetest.File {
		return append([]storetest.File{
			{Name: "manifest", Body: storetest.Manifest("example.com/hostile", nil)},
			{Name: "rootfs", Typeflag: tar.TypeDir},
		}, es...)
	}
	victimFile := filepath.Join(victimRoot, "secret")
	if err := os.WriteFile(victimFile, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases = append(cases,
		hostile{"absolute", head(storetest.File{Name: filepath.Join(victimRoot, "abs"), Body: []byte("x")})},
		hostile{"symlink-abs-then-write", head(
			storetest.File{Name: "rootfs/l", Typeflag: tar.TypeSymlink, Linkname: victimRoot},
			storetest.File{Name: "rootfs/l/through-symlink", Body: []byte("x")},
		)},
		hostile{"hardlink-abs", head(
			storetest.File{Name: "rootfs/h", Typeflag: tar.TypeLink, Linkname: victimFile},
		)},
		hostile{"hardlink-abs-then-write", head(
			storetest.File{Name: "rootfs/h", Typeflag: tar.TypeLink, Linkname: victimFile},
			storetest.File{Name: "rootfs/h", Body: []byte("overwritten\n")},
		)},
	)

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			k := newKey(t)
			e.trustPrefix("", k)
			aci := storetest.RawTar(t, c.entries...)
			p := e.writeSigned("hostile.aci", aci, k.Sign(t, aci))

			out, stderr := e.fails(254, "fetch", p)
			if out != "" {
				t.Errorf("refused fetch printed %q", out)
			}
			assertMentions(t, "the refusal", stderr, "hostile.aci")
			e.assertStore()
			if trees := e.entries("cas/tree"); len(trees) != 0 {
				t.Errorf("cas/tree holds %v after a refused fetch", trees)
			}
			// Nothing escaped next to the data dir.
			for _, n := range []string{"x", "outside", "other", "null"} {
				for _, dir := range []string{e.base, e.dataDir, filepath.Join(e.dataDir, "cas")} {
					if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
						t.Errorf("%s was written outside the image", filepath.Join(dir, n))
					}
				}
			}
		})
	}
	t.Cleanup(func() {
		des, _ := os.ReadDir(victimRoot)
		if len(des) != 1 {
			var names []string
			for _, d := range des {
				names = append(names, d.Name())
			}
			t.Errorf("the victim directory holds %v, want only the untouched secret", names)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(victimFile, &st); err == nil && st.Nlink != 1 {
			t.Errorf("the victim file has %d links: a hardlink escaped the image", st.Nlink)
		}
		if b, _ := os.ReadFile(victimFile); string(b) != "secret\n" {
			t.Errorf("the victim file now holds %q", b)
		}
	})
}

// TestFetchKeepsAbsoluteSymlink: an absolute symlink inside an image points
// inside the image at run time; it is stored as is.
func TestFetchKeepsAbsoluteSymlink(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := newKey(t)
	e.trustPrefix(e.prefix(), k)
	im := e.newImage("app",
		fileOf("etc/hello", "hello\n"),
		storetest.File{Name: "lib/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/hello"},
		storetest.File{Name: "lib/dirlink", Typeflag: tar.TypeSymlink, Linkname: "/etc"},
	)
	p := e.writeSigned("app.aci", im.aci, k.Sign(t, im.aci))
	e.fetchID(p)
	e.assertStore(im.id)

	dir := filepath.Join(e.base, "out")
	e.ok("image", "extract", "--rootfs-only", im.id, dir)
	for link, want := range map[string]string{"lib/link": "/etc/hello", "lib/dirlink": "/etc"} {
		got, err := os.Readlink(filepath.Join(dir, link))
		if err != nil || got != want {
			t.Errorf("extracted %s -> %q (%v), want -> %q", link, got, err, want)
		}
	}
}

// TestFetchImageWithoutRootfs: an archive with a manifest and nothing else is
// not an ACI; the refusal says what is missing instead of failing inside the
// store.
func TestFetchImageWithoutRootfs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := newKey(t)
	e.trustPrefix("", k)
	aci := storetest.RawTar(t, storetest.File{Name: "manifest", Body: storetest.Manifest("example.com/norootfs", nil)})
	p := e.writeSigned("norootfs.aci", aci, k.Sign(t, aci))
	out, stderr := e.fails(254, "fetch", p)
	if out != "" {
		t.Errorf("refused fetch printed %q", out)
	}
	assertMentions(t, "the refusal", stderr, "norootfs.aci", "image has no rootfs directory")
	if strings.Contains(stderr, "lstat") {
		t.Errorf("the refusal is an internal error: %s", stderr)
	}
	e.assertStore()
}
