package store

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rkt/rkt/common/tarsafe"

	"github.com/rkt/rkt/store/storetest"
)

// layerACI is a layer image as the OCI fetcher makes it.
func layerACI(t *testing.T, name, content string) []byte {
	t.Helper()
	m := []byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"oci-layer/` + name + `",` +
		`"annotations":[{"name":"` + AnnLayer + `","value":"sha256:` + name + `"}]}`)
	return storetest.BuildACIWithManifest(t, m, storetest.File{Name: name, Body: []byte(content)})
}

// topACI is an image depending on layers by image ID.
func topACI(t *testing.T, name string, layers ...string) []byte {
	t.Helper()
	deps := ""
	for i, k := range layers {
		if i > 0 {
			deps += ","
		}
		deps += `{"imageName":"oci-layer/x","imageID":"` + k + `"}`
	}
	return storetest.BuildACIWithManifest(t, []byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"`+name+`","dependencies":[`+deps+`]}`))
}

func present(s *Store, keys ...string) []bool {
	out := make([]bool, len(keys))
	for i, k := range keys {
		_, err := s.Image(k)
		out[i] = err == nil
	}
	return out
}

// TestRemoveImageTakesUnusedLayers: image rm of an image takes the layer
// images only it used, keeps those another image uses, and refuses to
// remove a layer image still used.
func TestRemoveImageTakesUnusedLayers(t *testing.T) {
	s := openStore(t, t.TempDir())
	base := mustIngest(t, s, layerACI(t, "base", "shared"), ImportMeta{})
	a1 := mustIngest(t, s, layerACI(t, "a1", "only a"), ImportMeta{})
	b1 := mustIngest(t, s, layerACI(t, "b1", "only b"), ImportMeta{})
	a := mustIngest(t, s, topACI(t, "example.com/a", base, a1), ImportMeta{})
	b := mustIngest(t, s, topACI(t, "example.com/b", base, b1), ImportMeta{})
	if img, _ := s.Image(base); !img.Layer {
		t.Fatalf("layer image row not marked as a layer")
	}
	if img, _ := s.Image(a); img.Layer {
		t.Fatalf("top image row marked as a layer")
	}
	if _, err := s.RemoveImage(base, nil); !errors.Is(err, ErrLayerInUse) {
		t.Fatalf("removing a used layer: %v, want ErrLayerInUse", err)
	}
	removed, err := s.RemoveImage(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{a, a1}) {
		t.Errorf("removed %v, want the image and its own layer %v", removed, []string{a, a1})
	}
	if got := present(s, base, a1, b1, b); !slices.Equal(got, []bool{true, false, true, true}) {
		t.Errorf("base, a1, b1, b present: %v", got)
	}
	removed, err = s.RemoveImage(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 3 {
		t.Errorf("removed %v, want b and both its layers", removed)
	}
	assertEmpty(t, s)
}

// TestGCKeepsLayersOfKeptImages: image gc never removes a layer image an
// image still depends on, however old, and removes it with the last one.
func TestGCKeepsLayersOfKeptImages(t *testing.T) {
	s := openStore(t, t.TempDir())
	past := time.Now().Add(-48 * time.Hour)
	s.now = func() time.Time { return past }
	base := mustIngest(t, s, layerACI(t, "base", "shared"), ImportMeta{})
	old := mustIngest(t, s, topACI(t, "example.com/old", base), ImportMeta{})
	s.now = time.Now
	fresh := mustIngest(t, s, topACI(t, "example.com/fresh", base), ImportMeta{})
	removed, err := s.GC(GCOptions{GracePeriod: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{old}) {
		t.Errorf("removed %v, want only the old image", removed)
	}
	if got := present(s, base, fresh); !slices.Equal(got, []bool{true, true}) {
		t.Fatalf("base, fresh present: %v", got)
	}
	removed, err = s.GC(GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{fresh, base}) {
		t.Errorf("removed %v, want the image, then its layer", removed)
	}
	assertEmpty(t, s)
}

// layerWith is a layer image of files, with whiteouts.
func layerWith(t *testing.T, name string, whiteouts string, files ...storetest.File) []byte {
	t.Helper()
	ann := `{"name":"` + AnnLayer + `","value":"sha256:` + name + `"}`
	if whiteouts != "" {
		ann += `,{"name":"` + AnnWhiteouts + `","value":` + strconv.Quote(whiteouts) + `}`
	}
	m := []byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"oci-layer/` + name + `","annotations":[` + ann + `]}`)
	return storetest.BuildACIWithManifest(t, m, files...)
}

// TestLayerHardlinks: a layer's hardlink may name a regular file of a
// layer below it; one naming a whited-out file, a directory, a symlink,
// or a path through a symlink leaving rootfs is refused when the tree is
// rendered, leaving no tree and nothing written outside; a name leaving
// the image is refused when the layer is stored. An ACI keeps the
// same-archive rule.
func TestLayerHardlinks(t *testing.T) {
	lowerFiles := []storetest.File{
		{Name: "etc/conf", Body: []byte("lower file")},
		{Name: "etc/secret", Body: []byte("whited out above")},
		{Name: "dir", Typeflag: tar.TypeDir},
		{Name: "sym", Typeflag: tar.TypeSymlink, Linkname: "etc/conf"},
		{Name: "out", Typeflag: tar.TypeSymlink, Linkname: "/etc"},
		{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../../.."},
		{Name: "alias", Typeflag: tar.TypeSymlink, Linkname: "etc"},
	}
	cases := []struct {
		name      string
		whiteouts string
		link      string
		ok        bool
	}{
		{"file of the lower layer", "", "etc/conf", true},
		{"through an inside symlink's directory", "", "alias/conf", true},
		{"whited-out file", `["/etc/secret"]`, "etc/secret", false},
		{"directory", "", "dir", false},
		{"symlink", "", "sym", false},
		{"through an absolute symlink", "", "out/passwd", false},
		{"through an escaping symlink", "", "up/etc/passwd", false},
		{"missing", "", "nothing", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			lower, err := ingestNoTree(s, layerWith(t, "lower", "", lowerFiles...))
			if err != nil {
				t.Fatal(err)
			}
			upper, err := ingestNoTree(s, layerWith(t, "upper", c.whiteouts, storetest.File{Name: "linked", Typeflag: tar.TypeLink, Linkname: c.link}))
			if err != nil {
				t.Fatalf("storing the upper layer: %v", err)
			}
			top := mustIngest(t, s, topACI(t, "example.com/app", lower, upper), ImportMeta{})
			id, err := s.Render(context.Background(), top)
			if !c.ok {
				var ee *tarsafe.EntryError
				if !errors.As(err, &ee) {
					t.Fatalf("render: %v, want a refused entry", err)
				}
				if ids, _ := s.trees.IDs(); len(ids) != 0 {
					t.Errorf("trees left: %v", ids)
				}
				assertTmpEmpty(t, s.dir)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rootfs := filepath.Join(s.TreePath(id), "rootfs")
			a, _ := os.Stat(filepath.Join(rootfs, "linked"))
			b, _ := os.Stat(filepath.Join(rootfs, "etc/conf"))
			if a == nil || b == nil || !os.SameFile(a, b) {
				t.Errorf("linked is not a hardlink of etc/conf")
			}
			if err := s.VerifyTree(id); err != nil {
				t.Errorf("verifying: %v", err)
			}
		})
	}
	t.Run("name leaving the image", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		for _, target := range []string{"../../etc/passwd", "/etc/passwd"} {
			_, err := ingestNoTree(s, storetest.RawTar(t,
				storetest.File{Name: "manifest", Body: storetest.Manifest("oci-layer/x", nil)},
				storetest.File{Name: "rootfs", Typeflag: tar.TypeDir},
				storetest.File{Name: "rootfs/h", Typeflag: tar.TypeLink, Linkname: target}))
			var ee *tarsafe.EntryError
			if !errors.As(err, &ee) {
				t.Errorf("link to %s: %v, want a refused entry", target, err)
			}
		}
		assertEmpty(t, s)
	})
	t.Run("ACI", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		base := mustIngest(t, s, storetest.BuildACI(t, "example.com/base", nil, storetest.File{Name: "f", Body: []byte("base")}), ImportMeta{})
		m := []byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/top","dependencies":[{"imageName":"example.com/base","imageID":"` + base + `"}]}`)
		if _, err := ingest(s, storetest.BuildACIWithManifest(t, m, storetest.File{Name: "h", Typeflag: tar.TypeLink, Linkname: "f"}), ImportMeta{}); err == nil {
			t.Errorf("an ACI linking to a file of its dependency was stored")
		}
	})
}
