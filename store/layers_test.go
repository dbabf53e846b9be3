package store

import (
	"errors"
	"slices"
	"testing"
	"time"

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
