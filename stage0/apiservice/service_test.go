package apiservice

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/appc/spec/schema"

	"github.com/rkt/rkt/api/v1alpha"
	"github.com/rkt/rkt/store"
	"github.com/rkt/rkt/store/storetest"
)

// storeImage imports aci into st; layer images are imported as fetch does
// them, without a tree.
func storeImage(t *testing.T, st *store.Store, aci []byte, layer bool) string {
	t.Helper()
	in, err := st.NewIngest()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Abort()
	if layer {
		if err := in.NoTree(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := io.Copy(in, bytes.NewReader(aci)); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Finish(); err != nil {
		t.Fatal(err)
	}
	key, err := in.Commit(store.ImportMeta{})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestLayerImagesLeftOut: the layer images of OCI images are parts of
// their images, so ListImages and the image events leave them out, as
// `rkt image list` does; InspectImage still answers for one by its ID.
func TestLayerImagesLeftOut(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	app := storeImage(t, st, storetest.BuildACI(t, "example.com/app", nil), false)
	var m schema.ImageManifest
	if err := m.UnmarshalJSON(storetest.Manifest("oci-layer/sha256-"+string(bytes.Repeat([]byte("a"), 64)), nil)); err != nil {
		t.Fatal(err)
	}
	m.Annotations.Set(store.AnnLayer, "sha256:"+string(bytes.Repeat([]byte("a"), 64)))
	mb, err := m.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	layer := storeImage(t, st, storetest.BuildACIWithManifest(t, mb), true)
	st.Close()

	s := New(Flags{DataDir: dir}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	resp, err := s.ListImages(context.Background(), &v1alpha.ListImagesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Images) != 1 || resp.Images[0].Id != app {
		var ids []string
		for _, im := range resp.Images {
			ids = append(ids, im.Id)
		}
		t.Errorf("ListImages: %v, want only the app image %s (not the layer %s)", ids, app, layer)
	}
	v, err := look(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.images[layer]; ok || len(v.images) != 1 {
		t.Errorf("the events' view of the images: %v, want only %s", v.images, app)
	}
	if _, err := s.InspectImage(context.Background(), &v1alpha.InspectImageRequest{Id: layer}); err != nil {
		t.Errorf("InspectImage of the layer image: %v", err)
	}
}
