package storetest

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"

	"github.com/appc/spec/schema"
)

func TestBuildACIIsDeterministicAndValid(t *testing.T) {
	files := []File{{Name: "etc", Typeflag: tar.TypeDir}, {Name: "etc/hello", Body: []byte("hi")}}
	a := BuildACI(t, "example.com/app", map[string]string{"version": "1.0", "os": "linux"}, files...)
	b := BuildACI(t, "example.com/app", map[string]string{"os": "linux", "version": "1.0"}, files...)
	if ImageID(a) != ImageID(b) {
		t.Fatalf("same arguments gave different images: %s vs %s", ImageID(a), ImageID(b))
	}
	tr := tar.NewReader(bytes.NewReader(a))
	var names []string
	var im schema.ImageManifest
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "manifest" {
			body, _ := io.ReadAll(tr)
			if err := im.UnmarshalJSON(body); err != nil {
				t.Fatalf("manifest does not validate: %v", err)
			}
		}
	}
	want := []string{"manifest", "rootfs", "rootfs/etc", "rootfs/etc/hello"}
	if len(names) != len(want) {
		t.Fatalf("entries %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("entries %v, want %v", names, want)
		}
	}
	if v, _ := im.Labels.Get("version"); im.Name != "example.com/app" || v != "1.0" {
		t.Fatalf("manifest name %q version %q", im.Name, v)
	}
	if len(ImageID(a)) != len("sha512-")+64 {
		t.Fatalf("image ID %q has the wrong length", ImageID(a))
	}
}
