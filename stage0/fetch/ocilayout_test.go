package fetch

import (
	"archive/tar"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/rkt/rkt/internal/registrytest"
	"github.com/rkt/rkt/stage0/insecure"
)

func testImage(t *testing.T, cfg v1.Config, layers ...v1.Layer) v1.Image {
	return registrytest.Image(t, cfg, layers...)
}

// tarDir writes dir's files into a tar at out.
func tarDir(t *testing.T, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	defer tw.Close()
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
}

func TestFetchLocalOCILayoutsAndArchives(t *testing.T) {
	e := newEnv(t)
	base := layerTar(t, tarEntry{name: "bin/", typ: tar.TypeDir}, tarEntry{name: "bin/app", body: "app"})
	top := layerTar(t, tarEntry{name: "etc/", typ: tar.TypeDir}, tarEntry{name: "etc/conf", body: "conf"})
	img := testImage(t, v1.Config{Cmd: []string{"/bin/app"}}, base, top)
	imgDigest, _ := img.Digest()

	dir := filepath.Join(e.dir, "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "1.0"})); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(e.dir, "app.oci.tar")
	tarDir(t, dir, archive)
	dockerArchive := filepath.Join(e.dir, "saved.tar")
	tag, _ := name.NewTag("example.com/team/saved:2")
	if err := tarball.WriteToFile(dockerArchive, tag, img); err != nil {
		t.Fatal(err)
	}

	f := &Fetcher{Store: e.store, Keystore: e.ks, Insecure: insecure.Image, PullPolicy: PullUpdate}
	for _, ref := range []string{"oci:" + dir + ":1.0", "oci:" + dir, "oci-archive:" + archive, "docker-archive:" + dockerArchive} {
		key, err := f.Fetch(context.Background(), ref, "")
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		// A docker save archive holds the manifest in Docker's own
		// format: another digest.
		wantDigest := imgDigest.String()
		if strings.HasPrefix(ref, "docker-archive:") {
			wantDigest = ""
		}
		if row, _ := e.store.Image(key); row.RegistryReference != "" || !strings.HasPrefix(row.ManifestDigest, "sha256:") || wantDigest != "" && row.ManifestDigest != wantDigest {
			t.Errorf("%s: row reference %q, digest %q; want none and %s", ref, row.RegistryReference, row.ManifestDigest, imgDigest)
		}
		tree, err := e.store.Render(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"bin/app", "etc/conf"} {
			if _, err := os.Stat(filepath.Join(e.store.TreePath(tree), "rootfs", p)); err != nil {
				t.Errorf("%s: %v", ref, err)
			}
		}
	}
	imgs, _ := e.store.Images()
	var layers int
	for _, im := range imgs {
		if strings.HasPrefix(im.Name, "oci-layer/") {
			layers++
		}
	}
	if layers != 2 {
		t.Errorf("%d layer images in the store, want 2 shared by all imports", layers)
	}

	// Unsigned local images are refused like remote ones.
	f.Insecure = insecure.None
	if _, err := f.Fetch(context.Background(), "oci:"+dir+":1.0", ""); !errors.Is(err, ErrOCIUnsigned) {
		t.Errorf("unsigned layout: got %v", err)
	}
	if _, err := f.Fetch(context.Background(), "oci:"+dir+":nope", ""); !errors.Is(err, ErrNoImageInLayout) {
		t.Errorf("missing ref: got %v", err)
	}
}

func TestOCIArchiveEscapingEntryRefused(t *testing.T) {
	e := newEnv(t)
	archive := filepath.Join(e.dir, "evil.tar")
	f, _ := os.Create(archive)
	tw := tar.NewWriter(f)
	tw.WriteHeader(&tar.Header{Name: "../outside", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
	tw.Write([]byte("x"))
	tw.Close()
	f.Close()
	fe := &Fetcher{Store: e.store, Keystore: e.ks, Insecure: insecure.Image}
	_, err := fe.Fetch(context.Background(), "oci-archive:"+archive, "")
	if err == nil || !strings.Contains(err.Error(), "leaves the archive") {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(os.TempDir(), "outside")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file written outside: %v", err)
	}
}
