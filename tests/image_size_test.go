package tests

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rkt/rkt/store/storetest"
)

// TestImageListSizeCountsTree: `rkt image list` gives an image's size as
// rkt 1.30 did: its blob plus its rendered tree, the tree counted entry by
// entry with directories and symlinks included and hard links once, which
// is what `du --apparent-size` (du -sb) reports for the tree's directory.
func TestImageListSizeCountsTree(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	files := []storetest.File{
		{Name: "etc", Typeflag: tar.TypeDir},
		{Name: "etc/hello", Body: []byte("hello\n")},
		{Name: "a/b/c/d", Typeflag: tar.TypeDir},
		{Name: "a/b/c/d/file", Body: []byte(strings.Repeat("x", 5000))},
		{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "a/b/c/d/a-rather-long-symlink-target-name"},
		{Name: "hard", Typeflag: tar.TypeLink, Linkname: "a/b/c/d/file"},
	}
	im := e.newImage("sized", files...)
	path := e.write("sized.aci", im.aci)
	e.ok("fetch", "--insecure-options=image", path)

	trees, _ := filepath.Glob(filepath.Join(e.dataDir, "cas", "tree", "deps-*"))
	if len(trees) != 1 {
		t.Fatalf("want one rendered tree after the fetch, have %v", trees)
	}
	out, err := exec.Command("du", "-sb", trees[0]).Output()
	if err != nil {
		t.Fatalf("du -sb %s: %v", trees[0], err)
	}
	treeSize, err := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	if err != nil {
		t.Fatalf("du -sb printed %q: %v", out, err)
	}
	blob, err := os.Stat(filepath.Join(e.dataDir, "cas", "blob", "sha512", im.id[7:9], im.id))
	if err != nil {
		t.Fatal(err)
	}
	want := blob.Size() + treeSize
	for _, li := range e.images() {
		if li.ID != im.id {
			continue
		}
		got, _ := li.Raw["size"].(float64)
		if int64(got) != want {
			t.Errorf("image list size %d, want %d: blob %d + tree %d (du -sb)", int64(got), want, blob.Size(), treeSize)
		}
		return
	}
	t.Errorf("image %s not listed", im.id)
}
