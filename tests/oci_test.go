package tests

import (
	"archive/tar"
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/rkt/rkt/internal/registrytest"
	"github.com/rkt/rkt/store/storetest"
)

// ociLayer is an uncompressed OCI layer of files.
func ociLayer(t *testing.T, files ...storetest.File) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		typ := f.Typeflag
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: f.Name, Typeflag: typ, Mode: f.Mode, Linkname: f.Linkname, Uid: f.Uid, Gid: f.Gid}
		if typ == tar.TypeReg {
			h.Size = int64(len(f.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.Body)
	}
	tw.Close()
	return static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer)
}

// ociLayoutImage writes an image of layers and cfg into an OCI layout and
// returns skopeo's reference to it.
func ociLayoutImage(t *testing.T, dir string, cfg v1.Config, layers ...v1.Layer) string {
	t.Helper()
	img := registrytest.Image(t, cfg, layers...)
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	return "oci:" + dir
}

func TestOCIRegistryFetchAndRun(t *testing.T) {
	pe := newPodEnv(t)
	reg := registrytest.Start(t)
	pe.extraEnv = append(pe.extraEnv, "SSL_CERT_DIR="+reg.CertDir)
	pe.write("local/auth.d/registry.json", []byte(`{"rktKind":"dockerAuth","rktVersion":"v1","registries":["`+reg.Host+`"],"credentials":{"user":"`+reg.User+`","password":"`+reg.Password+`"}}`))

	base := ociLayer(t, append(busyboxFiles(t), storetest.File{Name: "etc/old", Mode: 0o644, Body: []byte("whited out above")})...)
	top := ociLayer(t,
		storetest.File{Name: "etc/.wh.old", Mode: 0o644},
		storetest.File{Name: "srv", Typeflag: tar.TypeDir, Mode: 0o755},
		storetest.File{Name: "srv/hello", Mode: 0o644, Body: []byte("hello from the top layer")},
	)
	cfg := v1.Config{
		Entrypoint: []string{"/bin/sh", "-c"},
		Cmd:        []string{`echo "env=$GREETING"; id -u; id -g; pwd; cat hello; test -e /etc/old && echo old-present || echo old-gone`},
		Env:        []string{"GREETING=oci", "PATH=/bin"},
		User:       "daemon2:staff",
		WorkingDir: "/srv",
	}
	reg.Push(t, ociLayoutImage(t, filepath.Join(pe.base, "layout-app"), cfg, base, top), "team/app:1")
	ref := "docker://" + reg.Host + "/team/app:1"

	// Without --insecure-options=image the image is refused and nothing is stored.
	_, stderr := pe.fails(254, "fetch", ref)
	assertMentions(t, "unsigned OCI image", stderr, "no signature found", "--insecure-options=image", "rkt trust --prefix "+reg.Host+"/team/app")
	pe.assertStore()
	if got := reg.BlobGets("team/app"); len(got) != 0 {
		t.Errorf("blobs downloaded before the signature check: %v", got)
	}

	id := pe.fetchID("--insecure-options=image", ref)
	if !strings.HasPrefix(id, "sha512-") {
		t.Fatalf("fetch printed %q", id)
	}
	list := pe.ok("image", "list", "--no-legend", "--fields=name")
	if !strings.Contains(list, "127.0.0.1_") || !strings.Contains(list, "/team/app") {
		t.Errorf("image list:\n%s", list)
	}

	out := pe.runOK("--insecure-options=image", ref)
	for _, want := range []string{"env=oci", "1234\n1100", "/srv", "hello from the top layer", "old-gone"} {
		if !strings.Contains(out, want) {
			t.Errorf("pod output lacks %q:\n%s", want, out)
		}
	}

	// One pod of an ACI and the OCI image, whose exec is overridden.
	aci := pe.shImage("aci-app", "echo from-the-aci")
	out = pe.runOK("--insecure-options=image", aci, ref, "--exec=/bin/sh", "--", "-c", "echo overridden-$GREETING", "---")
	for _, want := range []string{"from-the-aci", "overridden-oci"} {
		if !strings.Contains(out, want) {
			t.Errorf("mixed pod output lacks %q:\n%s", want, out)
		}
	}

	// A second image sharing the base layer downloads only its own layer.
	other := ociLayer(t, storetest.File{Name: "other", Mode: 0o644, Body: []byte("o")})
	reg.Push(t, ociLayoutImage(t, filepath.Join(pe.base, "layout-other"), cfg, base, other), "team/other:1")
	pe.fetchID("--insecure-options=image", "docker://"+reg.Host+"/team/other:1")
	first := map[string]bool{}
	for _, d := range reg.BlobGets("team/app") {
		first[d] = true
	}
	second := reg.BlobGets("team/other")
	for _, d := range second {
		if first[d] {
			t.Errorf("blob %s of the first image was downloaded again", d)
		}
	}
	// The config and the one new layer.
	if len(second) != 2 {
		t.Errorf("second fetch downloaded %d blobs, want 2 (config and new layer): %v", len(second), second)
	}
}
