package tree

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rkt/rkt/common/tarsafe"
	"github.com/rkt/rkt/store/storetest"
)

// FuzzFinish feeds an image (its tar) and its manifest's pathWhitelist
// (one path per line) to the two ways the store finishes a tree: from the
// records Extract keeps (whitelistFiles, HashFiles) and by walking the
// disk (applyWhitelist, Hash). Seeds are richFiles and the GNU tar
// archives of common/tarsafe's testdata, with whitelists that keep some
// files, a directory, a symlink, nothing that exists, and ".." paths.
// Properties: recording does not change whether an image extracts; both
// ways leave the same files and give the same Sum; and the Sum from the
// records is the one Hash computes from what is on disk, which is what
// Verify checks later.
func FuzzFinish(f *testing.F) {
	whitelists := []string{
		"",
		"/bin/tool\n/etc/hosts",
		"/bin\n/bin/same\n/lib",
		"/nothing/here",
		"../../etc/passwd\n/./bin//tool\n/a/../bin/tool",
		"/usr/bin/hello\n/bin/hello\n/etc/link",
	}
	acis := [][]byte{
		storetest.BuildACI(f, "example.com/rich", nil, richFiles()...),
		storetest.BuildACI(f, "example.com/dirs", nil,
			storetest.File{Name: "a/b/c", Body: []byte("x")},
			storetest.File{Name: "a/d", Typeflag: tar.TypeDir},
			storetest.File{Name: "e", Typeflag: tar.TypeSymlink, Linkname: "a/b"},
		),
	}
	tars, err := filepath.Glob(filepath.Join("..", "..", "common", "tarsafe", "testdata", "*.tar"))
	if err != nil || len(tars) == 0 {
		f.Fatalf("no seed archives in common/tarsafe/testdata (%v)", err)
	}
	for _, p := range tars {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		acis = append(acis, b)
	}
	for _, a := range acis {
		for _, w := range whitelists {
			f.Add(a, w)
		}
	}
	f.Fuzz(func(t *testing.T, aci []byte, wl string) {
		var whitelist []string
		if wl != "" {
			whitelist = strings.Split(wl, "\n")
		}
		fast, slow := t.TempDir(), t.TempDir()
		// Bounded, as the store bounds images: a sparse entry declares
		// any size in a few bytes.
		lim := tarsafe.Limits{MaxSize: 16 << 20, MaxEntries: 4096}
		res, errFast := tarsafe.Extract(bytes.NewReader(aci), fast, tarsafe.Options{Record: true, Limits: lim})
		_, errSlow := tarsafe.Extract(bytes.NewReader(aci), slow, tarsafe.Options{Limits: lim})
		if (errFast == nil) != (errSlow == nil) {
			t.Fatalf("recording changes the outcome: %v vs %v", errFast, errSlow)
		}
		if errFast != nil || res.Manifest == nil {
			return // the store refuses an image without a manifest first
		}
		if _, err := os.Lstat(filepath.Join(fast, tarsafe.RootfsName)); err != nil {
			return // nor one without rootfs/ (ErrNoRootfs)
		}
		sumFast, err := Finish(fast, res, whitelist)
		if err != nil {
			t.Fatalf("Finish from the records: %v", err)
		}
		sumSlow, err := Finish(slow, nil, whitelist)
		if err != nil {
			t.Fatalf("Finish by walking: %v", err)
		}
		if sumFast != sumSlow {
			t.Fatalf("the records give %+v, the walk %+v (whitelist %q)", sumFast, sumSlow, whitelist)
		}
		h, size, err := Hash(fast)
		if err != nil || h != sumFast.Hash || size != sumFast.Size {
			t.Fatalf("the records give %+v, the tree they describe hashes to %s, %d (%v)", sumFast, h, size, err)
		}
	})
}
