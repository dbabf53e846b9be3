package tests

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

	// A user without a group runs with the user's primary group from the
	// image's /etc/passwd (1234 for daemon2), not 0.
	noGroup := cfg
	noGroup.User = "daemon2"
	noGroup.Cmd = []string{`echo "ids $(id -u) $(id -g)"`}
	reg.Push(t, ociLayoutImage(t, filepath.Join(pe.base, "layout-nogroup"), noGroup, base, top), "team/nogroup:1")
	if out := pe.runOK("--insecure-options=image", "docker://"+reg.Host+"/team/nogroup:1"); !strings.Contains(out, "ids 1234 1234") {
		t.Errorf("USER daemon2 without a group: want uid 1234 gid 1234:\n%s", out)
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

// TestOCILayerImages: the layer images of registry images are listed only
// with image list --all; image rm of an image takes the layers no other
// image uses and refuses to take a layer still used; image gc takes the
// rest once their images are gone.
func TestOCILayerImages(t *testing.T) {
	e := newEnv(t)
	reg := registrytest.Start(t)
	e.extraEnv = append(e.extraEnv, "SSL_CERT_DIR="+reg.CertDir)
	e.write("local/auth.d/registry.json", []byte(`{"rktKind":"dockerAuth","rktVersion":"v1","registries":["`+reg.Host+`"],"credentials":{"user":"`+reg.User+`","password":"`+reg.Password+`"}}`))
	cfg := v1.Config{Cmd: []string{"/bin/true"}}
	base := ociLayer(t, storetest.File{Name: "etc/shared", Mode: 0o644, Body: []byte("in both images")})
	reg.Push(t, ociLayoutImage(t, filepath.Join(e.base, "layout-a"), cfg, base, ociLayer(t, storetest.File{Name: "a", Mode: 0o644, Body: []byte("a")})), "team/a:1")
	// b's own layer also hardlinks a file of the shared layer below it.
	reg.Push(t, ociLayoutImage(t, filepath.Join(e.base, "layout-b"), cfg, base, ociLayer(t,
		storetest.File{Name: "b", Mode: 0o644, Body: []byte("b")},
		storetest.File{Name: "b-shared", Typeflag: tar.TypeLink, Linkname: "etc/shared"},
	)), "team/b:1")
	a := e.fetchID("--full", "--insecure-options=image", "docker://"+reg.Host+"/team/a:1")
	b := e.fetchID("--full", "--insecure-options=image", "docker://"+reg.Host+"/team/b:1")

	names := func(args ...string) []string {
		t.Helper()
		out := e.ok(append([]string{"image", "list", "--no-legend", "--fields=name", "--sort=name"}, args...)...)
		return strings.Fields(out)
	}
	layers := func(ns []string) (n int) {
		for _, s := range ns {
			if strings.HasPrefix(s, "oci-layer/") {
				n++
			}
		}
		return n
	}
	if got := names(); len(got) != 2 || layers(got) != 0 {
		t.Errorf("image list shows %v, want the two images and no layer", got)
	}
	if got := names("--all"); len(got) != 5 || layers(got) != 3 {
		t.Errorf("image list --all shows %v, want the two images and their three layers", got)
	}
	// The registry reference and manifest digest, on request.
	refs := e.ok("image", "list", "--no-legend", "--fields=name,reference,digest", "--sort=name")
	for _, want := range []string{reg.Host + "/team/a:1", reg.Host + "/team/b:1", "sha256:"} {
		if !strings.Contains(refs, want) {
			t.Errorf("image list --fields=name,reference,digest lacks %q:\n%s", want, refs)
		}
	}
	var listed []map[string]any
	if err := json.Unmarshal([]byte(e.ok("image", "list", "--format=json")), &listed); err != nil || len(listed) != 2 {
		t.Errorf("image list --format=json shows %v (%v), want the 2 images", listed, err)
	}

	// The shared layer cannot go while an image uses it.
	deps := func(id string) []string {
		t.Helper()
		var m struct {
			Dependencies []struct{ ImageID string }
		}
		if err := json.Unmarshal([]byte(e.ok("image", "cat-manifest", id)), &m); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range m.Dependencies {
			ids = append(ids, d.ImageID)
		}
		return ids
	}
	da, db := deps(a), deps(b)
	if len(da) != 2 || len(db) != 2 || da[0] != db[0] || da[1] == db[1] {
		t.Fatalf("dependencies of a %v and b %v: want the same bottom layer and their own top", da, db)
	}
	shared := da[0]
	_, stderr := e.fails(254, "image", "rm", shared)
	assertMentions(t, "removing a used layer", stderr, "is a layer of other images", "remove those instead")

	// Removing a takes its own layer and leaves b whole.
	_, stderr = e.fails(0, "image", "rm", a)
	if n := strings.Count(stderr, "successfully removed aci for image"); n != 2 {
		t.Errorf("image rm reported %d removals, want the image and its own layer:\n%s", n, stderr)
	}
	if got := names("--all"); len(got) != 3 || layers(got) != 2 {
		t.Errorf("after image rm: image list --all shows %v, want b and its two layers", got)
	}
	dest := filepath.Join(e.base, "render-b")
	e.ok("image", "render", "--rootfs-only", b, dest)
	for _, f := range []string{"etc/shared", "b"} {
		if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
			t.Errorf("b renders without %s: %v", f, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dest, "b-shared")); err != nil || string(b) != "in both images" {
		t.Errorf("b's hardlink to a file of the layer below: %q, %v", b, err)
	}
	e.ok("image", "verify", b)
	// Every image: the layers are verified within b's tree, not alone
	// (b's own layer, linking below it, has no tree of its own).
	if out := e.ok("image", "verify"); strings.Count(out, ": ok") != 1 {
		t.Errorf("image verify of every image:\n%s", out)
	}

	// image gc takes b, then its layers.
	e.ok("image", "gc", "--grace-period=0s")
	if got := names("--all"); len(got) != 0 {
		t.Errorf("after image gc: image list --all shows %v", got)
	}
	e.assertStore()
}

// TestOCIStopSignal: rkt stop sends an OCI image's app its StopSignal,
// not SIGTERM, with either stage1.
func TestOCIStopSignal(t *testing.T) {
	for _, flavor := range []string{"nspawn", "fly"} {
		t.Run(flavor, func(t *testing.T) { testOCIStopSignal(t, flavor) })
	}
}

func testOCIStopSignal(t *testing.T, flavor string) {
	pe := newPodEnv(t)
	reg := registrytest.Start(t)
	pe.extraEnv = append(pe.extraEnv, "SSL_CERT_DIR="+reg.CertDir)
	pe.write("local/auth.d/registry.json", []byte(`{"rktKind":"dockerAuth","rktVersion":"v1","registries":["`+reg.Host+`"],"credentials":{"user":"`+reg.User+`","password":"`+reg.Password+`"}}`))
	cfg := v1.Config{
		Entrypoint: []string{"/bin/sh", "-c"},
		Cmd:        []string{`trap "echo usr1 > /log/sig; exit 0" USR1; trap "echo term > /log/sig; exit 0" TERM; echo > /log/up; while :; do sleep 0.1; done`},
		Env:        []string{"PATH=/bin"},
		Volumes:    map[string]struct{}{"/log": {}},
		StopSignal: "SIGUSR1",
	}
	reg.Push(t, ociLayoutImage(t, filepath.Join(pe.base, "layout-stop"), cfg, ociLayer(t, busyboxFiles(t)...)), "team/stop:1")
	logDir := filepath.Join(pe.base, "log")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"--insecure-options=image", "--volume=volume-log,kind=host,source=" + logDir, "docker://" + reg.Host + "/team/stop:1"}
	if flavor == "fly" {
		args = append([]string{"--stage1-path=" + pe.flyPath}, args...)
	}
	uuid, wait := pe.startPod(args...)
	waitOutFile(t, filepath.Join(logDir, "up"), 30*time.Second, nil)
	pe.ok("stop", uuid)
	if code, _ := wait(); code != 0 {
		t.Errorf("rkt run after the stop: exit %d, want 0", code)
	}
	if b, err := os.ReadFile(filepath.Join(logDir, "sig")); err != nil || strings.TrimSpace(string(b)) != "usr1" {
		t.Errorf("the app got %q (%v), want its stop signal SIGUSR1", b, err)
	}
}
