package fetch

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"github.com/rkt/rkt/common/podlayout"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/rkt/rkt/stage0/insecure"
)

type tarEntry struct {
	name, body, link string
	typ              byte
}

func layerTar(t *testing.T, entries ...tarEntry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body)), Linkname: e.link}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeDir {
			h.Mode = 0o755
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return static.NewLayer(buf.Bytes(), types.DockerUncompressedLayer)
}

// pushImage writes an image of layers and cfg to the registry at host.
func pushImage(t *testing.T, ref string, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img := testImage(t, cfg, layers...)
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return img
}

type countingHandler struct {
	h     http.Handler
	blobs []string
}

func (c *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
		c.blobs = append(c.blobs, r.URL.Path)
	}
	c.h.ServeHTTP(w, r)
}

// newRegistryHandler is go-containerregistry's in-process registry,
// counting the blobs it serves.
func newRegistryHandler() (*countingHandler, error) {
	return &countingHandler{h: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}, nil
}

type basicAuth struct{ user, password string }

func (b *basicAuth) Authorization() (*authn.AuthConfig, error) {
	return &authn.AuthConfig{Username: b.user, Password: b.password}, nil
}

func emptyIndex() v1.ImageIndex { return empty.Index }

func newRegistry(t *testing.T) (string, *countingHandler) {
	t.Helper()
	c, _ := newRegistryHandler()
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), c
}

func (e *env) ociFetcher() *Fetcher {
	return &Fetcher{Store: e.store, Keystore: e.ks, Client: http.DefaultClient, Insecure: insecure.Image | insecure.HTTP, PullPolicy: PullUpdate, Log: slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

func TestFetchDockerLayersWhiteoutsAndApp(t *testing.T) {
	e := newEnv(t)
	host, counter := newRegistry(t)
	base := layerTar(t,
		tarEntry{name: "etc/", typ: tar.TypeDir},
		tarEntry{name: "etc/keep", body: "kept"},
		tarEntry{name: "etc/gone", body: "deleted above"},
		tarEntry{name: "opq/", typ: tar.TypeDir},
		tarEntry{name: "opq/old", body: "hidden by an opaque dir"},
	)
	top := layerTar(t,
		tarEntry{name: "etc/.wh.gone"},
		tarEntry{name: "opq/.wh..wh..opq"},
		tarEntry{name: "opq/new", body: "new"},
		tarEntry{name: "bin/", typ: tar.TypeDir},
		tarEntry{name: "bin/app", body: "#!/bin/sh\n"},
	)
	cfg := v1.Config{
		Entrypoint:   []string{"/bin/app"},
		Cmd:          []string{"serve"},
		Env:          []string{"A=1", "PATH=/bin"},
		User:         "1000:1001",
		WorkingDir:   "/srv",
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		Volumes:      map[string]struct{}{"/data": {}},
		StopSignal:   "SIGQUIT",
	}
	img := pushImage(t, host+"/team/app:1", cfg, base, top)
	digest, _ := img.Digest()

	f := e.ociFetcher()
	key, err := f.Fetch(context.Background(), "docker://"+host+"/team/app:1", "")
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	m, _, err := e.store.Manifest(key)
	if err != nil {
		t.Fatal(err)
	}
	wantName := strings.ReplaceAll(host, ":", "_") + "/team/app"
	if m.Name.String() != wantName {
		t.Errorf("name %q, want %q", m.Name, wantName)
	}
	if v, _ := m.GetLabel("version"); v != "1" {
		t.Errorf("version label %q, want 1", v)
	}
	if v, _ := m.Annotations.Get(annManifestDigest); v != digest.String() {
		t.Errorf("manifest digest annotation %q, want %s", v, digest)
	}
	if len(m.Dependencies) != 2 {
		t.Fatalf("dependencies: %v", m.Dependencies)
	}
	row, err := e.store.Image(key)
	if err != nil {
		t.Fatal(err)
	}
	if row.RegistryReference != host+"/team/app:1" || row.ManifestDigest != digest.String() || row.Layer {
		t.Errorf("index row: reference %q, digest %q, layer %v; want %s, %s, false", row.RegistryReference, row.ManifestDigest, row.Layer, host+"/team/app:1", digest)
	}
	for _, d := range m.Dependencies {
		if lr, err := e.store.Image(d.ImageID.String()); err != nil || !lr.Layer || lr.RegistryReference != "" {
			t.Errorf("layer row %+v (%v): want a layer, without reference", lr, err)
		}
	}
	// By digest: the reference names the digest.
	byDigest := "docker://" + host + "/team/app@" + digest.String()
	dk, err := f.Fetch(context.Background(), byDigest, "")
	if err != nil {
		t.Fatalf("fetch by digest: %v", err)
	}
	if r, _ := e.store.Image(dk); r.RegistryReference != host+"/team/app@"+digest.String() || r.ManifestDigest != digest.String() {
		t.Errorf("row of a digest pull: reference %q, digest %q", r.RegistryReference, r.ManifestDigest)
	}
	a := m.App
	if a == nil || strings.Join(a.Exec, " ") != "/bin/app serve" || a.User != "1000" || a.Group != "1001" || a.WorkingDirectory != "/srv" {
		t.Fatalf("app: %+v", a)
	}
	if v, ok := a.Environment.Get("A"); !ok || v != "1" {
		t.Errorf("env: %v", a.Environment)
	}
	if len(a.Ports) != 1 || a.Ports[0].Port != 8080 || a.Ports[0].Protocol != "tcp" {
		t.Errorf("ports: %+v", a.Ports)
	}
	if len(a.MountPoints) != 1 || a.MountPoints[0].Path != "/data" {
		t.Errorf("mount points: %+v", a.MountPoints)
	}
	if v, _ := m.Annotations.Get(podlayout.AnnotationStopSignal); v != "SIGQUIT" {
		t.Errorf("stop signal %q", v)
	}

	tree, err := e.store.Render(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(e.store.TreePath(tree), "rootfs")
	for p, want := range map[string]bool{"etc/keep": true, "etc/gone": false, "opq/old": false, "opq/new": true, "bin/app": true, "etc/.wh.gone": false, "opq/.wh..wh..opq": false} {
		_, err := os.Lstat(filepath.Join(rootfs, p))
		if (err == nil) != want {
			t.Errorf("%s: exists=%v, want %v", p, err == nil, want)
		}
	}

	// A second image sharing the base layer downloads only its own.
	other := layerTar(t, tarEntry{name: "other", body: "o"})
	pushImage(t, host+"/team/other:2", cfg, base, other)
	counter.blobs = nil
	if _, err := f.Fetch(context.Background(), "docker://"+host+"/team/other:2", ""); err != nil {
		t.Fatalf("fetch other: %v", err)
	}
	bd, _ := base.Digest()
	od, _ := other.Digest()
	var layerGets []string
	for _, b := range counter.blobs {
		if strings.HasSuffix(b, bd.String()) {
			t.Errorf("shared layer downloaded again: %s", b)
		}
		if strings.HasSuffix(b, od.String()) {
			layerGets = append(layerGets, b)
		}
	}
	if len(layerGets) != 1 {
		t.Errorf("new layer downloaded %d times, want 1 (blobs: %v)", len(layerGets), counter.blobs)
	}
}

func TestFetchDockerRefusedWithoutVerifier(t *testing.T) {
	e := newEnv(t)
	host, counter := newRegistry(t)
	pushImage(t, host+"/team/app:1", v1.Config{Cmd: []string{"/x"}}, layerTar(t, tarEntry{name: "x", body: "x"}))
	f := e.ociFetcher()
	f.Insecure = insecure.HTTP
	counter.blobs = nil
	_, err := f.Fetch(context.Background(), "docker://"+host+"/team/app:1", "")
	if !errors.Is(err, ErrOCIUnsigned) || !strings.Contains(err.Error(), "--insecure-options=image") {
		t.Fatalf("want a refusal naming --insecure-options=image, got %v", err)
	}
	if imgs, _ := e.store.Images(); len(imgs) != 0 {
		t.Errorf("store holds %d images after a refusal", len(imgs))
	}
	for _, b := range counter.blobs {
		t.Errorf("blob downloaded before the signature check: %s", b)
	}

	// A verifier is called with the trust name and the manifest digest.
	var got OCIVerifyRequest
	f.OCIVerifier = func(_ context.Context, req OCIVerifyRequest) error { got = req; return nil }
	if _, err := f.Fetch(context.Background(), "docker://"+host+"/team/app:1", ""); err != nil {
		t.Fatal(err)
	}
	if got.Name != host+"/team/app" || !strings.HasPrefix(got.ManifestDigest, "sha256:") || got.Reference != host+"/team/app:1" {
		t.Errorf("verify request: %+v", got)
	}
}

func TestFetchDockerHostileLayerLeavesStoreUnchanged(t *testing.T) {
	for _, tc := range []struct {
		name  string
		layer []tarEntry
		want  string
	}{
		{"dotdot", []tarEntry{{name: "../evil", body: "x"}}, "evil"},
		{"symlink escape", []tarEntry{{name: "l", typ: tar.TypeSymlink, link: "/"}, {name: "l/etc/passwd", body: "x"}}, "l"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			host, _ := newRegistry(t)
			good := layerTar(t, tarEntry{name: "ok", body: "ok"})
			pushImage(t, host+"/h/app:1", v1.Config{Cmd: []string{"/ok"}}, good, layerTar(t, tc.layer...))
			_, err := e.ociFetcher().Fetch(context.Background(), "docker://"+host+"/h/app:1", "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want a refusal, got %v", err)
			}
			if imgs, _ := e.store.Images(); len(imgs) != 0 {
				t.Errorf("store holds %d images after a refusal", len(imgs))
			}
		})
	}
}

func TestDockerHubNaming(t *testing.T) {
	for _, tc := range []struct{ ref, trust, appc, tag, full string }{
		{"docker://busybox", "docker.io/library/busybox", "docker.io/library/busybox", "latest", "index.docker.io/library/busybox:latest"},
		{"docker://team/app:1.2", "docker.io/team/app", "docker.io/team/app", "1.2", "index.docker.io/team/app:1.2"},
		{"docker://localhost:5000/team/app:1", "localhost:5000/team/app", "localhost_5000/team/app", "1", "localhost:5000/team/app:1"},
		{"docker://registry.example.com/a/b/c@sha256:" + strings.Repeat("ab", 32), "registry.example.com/a/b/c", "registry.example.com/a/b/c", "", "registry.example.com/a/b/c@sha256:" + strings.Repeat("ab", 32)},
	} {
		got, err := parseDockerRef(tc.ref, 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.ref, err)
		}
		if got.trust != tc.trust || got.appc != tc.appc || got.tag != tc.tag || got.ref.Name() != tc.full {
			t.Errorf("%s: trust %q appc %q tag %q ref %q, want %q %q %q %q", tc.ref, got.trust, got.appc, got.tag, got.ref.Name(), tc.trust, tc.appc, tc.tag, tc.full)
		}
	}
	if _, err := parseDockerRef("docker://UPPER/case", 0); err == nil {
		t.Error("an upper-case repository was accepted")
	}
}

// TestOCIUserGroup: a config user with a group maps to both; one without
// (a name or a uid) keeps the placeholder group 0 and marks the image so
// that the user's primary group is resolved in the image when it runs.
func TestOCIUserGroup(t *testing.T) {
	tg, err := parseDockerRef("docker://example.com/team/app:1", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, wantUser, wantGroup string
		marked                    bool
	}{
		{"", "0", "0", false},
		{"1000:1001", "1000", "1001", false},
		{"daemon:staff", "daemon", "staff", false},
		{"daemon", "daemon", "0", true},
		{"1000", "1000", "0", true},
	} {
		cfg := &v1.ConfigFile{Config: v1.Config{Cmd: []string{"/bin/true"}, User: c.user}}
		m, err := ociManifest(tg, cfg, v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, marked := m.Annotations.Get(podlayout.AnnotationGroupFromPasswd)
		if m.App.User != c.wantUser || m.App.Group != c.wantGroup || marked != c.marked {
			t.Errorf("user %q: app user %q group %q marked %v; want %q %q %v", c.user, m.App.User, m.App.Group, marked, c.wantUser, c.wantGroup, c.marked)
		}
	}
}
