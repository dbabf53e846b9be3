package fetch

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/rkt/rkt/common/tarsafe"
	"github.com/rkt/rkt/stage0/insecure"
	"github.com/rkt/rkt/store"
)

// tamper serves the registry at h, except that a GET whose path ends in
// one of the keys gets that key's bytes instead.
type tamper struct {
	h     http.Handler
	mu    sync.Mutex
	swaps map[string][]byte
}

func (tp *tamper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for suffix, body := range tp.swaps {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, suffix) {
			if strings.Contains(r.URL.Path, "/manifests/") {
				w.Header().Set("Content-Type", string(types.DockerManifestSchema2))
			}
			w.Write(body)
			return
		}
	}
	tp.h.ServeHTTP(w, r)
}

func newTamperedRegistry(t *testing.T) (string, *tamper) {
	t.Helper()
	c, _ := newRegistryHandler()
	tp := &tamper{h: c, swaps: map[string][]byte{}}
	srv := httptest.NewServer(tp)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), tp
}

func assertStoreEmpty(t *testing.T, e *env) {
	t.Helper()
	if imgs, _ := e.store.Images(); len(imgs) != 0 {
		t.Errorf("store holds %d images after a refusal", len(imgs))
	}
}

func TestFetchDockerLayerDigestMismatch(t *testing.T) {
	e := newEnv(t)
	host, tp := newTamperedRegistry(t)
	good := layerTar(t, tarEntry{name: "ok", body: "ok"})
	pushImage(t, host+"/h/app:1", v1.Config{Cmd: []string{"/ok"}}, good)
	d, _ := good.Digest()
	tp.swaps["/blobs/"+d.String()] = bytes.Repeat([]byte("x"), 2048)
	_, err := e.ociFetcher().Fetch(context.Background(), "docker://"+host+"/h/app:1", "")
	if err == nil || !strings.Contains(err.Error(), d.String()) {
		t.Fatalf("want a refusal naming the layer, got %v", err)
	}
	assertStoreEmpty(t, e)
}

func TestFetchDockerSwappedManifest(t *testing.T) {
	e := newEnv(t)
	host, tp := newTamperedRegistry(t)
	a := pushImage(t, host+"/h/app:1", v1.Config{Cmd: []string{"/a"}}, layerTar(t, tarEntry{name: "a", body: "a"}))
	b := pushImage(t, host+"/h/app:2", v1.Config{Cmd: []string{"/b"}}, layerTar(t, tarEntry{name: "b", body: "b"}))
	ad, _ := a.Digest()
	braw, _ := b.RawManifest()
	tp.swaps["/manifests/"+ad.String()] = braw
	_, err := e.ociFetcher().Fetch(context.Background(), "docker://"+host+"/h/app@"+ad.String(), "")
	if err == nil {
		t.Fatal("a digest-pinned pull accepted another manifest")
	}
	t.Logf("refused: %v", err)
	assertStoreEmpty(t, e)
}

func TestFetchDockerIndexPlatformToOtherImage(t *testing.T) {
	e := newEnv(t)
	host, _ := newRegistry(t)
	// The registry is content addressed, so an index entry cannot name
	// image A's digest and get B's bytes; what a hostile index can do is
	// point the host's platform at another image. The signature hook is
	// then asked about that image's digest (not the index's, not A's),
	// and a signature for A does not let it in.
	a := pushImage(t, host+"/h/app:a", v1.Config{Cmd: []string{"/a"}}, layerTar(t, tarEntry{name: "a", body: "a"}))
	other := pushImage(t, host+"/h/app:other", v1.Config{Cmd: []string{"/other"}}, layerTar(t, tarEntry{name: "o", body: "o"}))
	idx := mutate.AppendManifests(emptyIndex(), mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	r, _ := name.ParseReference(host+"/h/app:multi", name.Insecure)
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	ad, _ := a.Digest()
	od, _ := other.Digest()
	f := e.ociFetcher()
	f.Insecure = insecure.HTTP
	var asked []string
	f.OCIVerifier = func(_ context.Context, req OCIVerifyRequest) error {
		asked = append(asked, req.ManifestDigest)
		if req.ManifestDigest != ad.String() {
			return errors.New("not the signed image")
		}
		return nil
	}
	_, err := f.Fetch(context.Background(), "docker://"+host+"/h/app:multi", "")
	if err == nil {
		t.Fatal("an index pointing at another image was accepted")
	}
	if len(asked) != 1 || asked[0] != od.String() {
		t.Errorf("verifier asked about %v, want the resolved image %s", asked, od)
	}
	assertStoreEmpty(t, e)
}

func TestFetchDockerGzipBombStopsAtLimit(t *testing.T) {
	e := newEnv(t)
	host, _ := newRegistry(t)
	const limit = 8 << 20
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: 64 << 20})
	tw.Write(make([]byte, 64<<20))
	tw.Close()
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	zw.Write(tb.Bytes())
	zw.Close()
	bomb := static.NewLayer(gz.Bytes(), types.DockerLayer)
	pushImage(t, host+"/h/bomb:1", v1.Config{Cmd: []string{"/x"}}, bomb)
	e.store.SetLimits(store.Limits{MaxImageSize: limit, MaxFiles: 100})
	_, err := e.ociFetcher().Fetch(context.Background(), "docker://"+host+"/h/bomb:1", "")
	var le *tarsafe.LimitError
	if !errors.As(err, &le) {
		t.Fatalf("want a *tarsafe.LimitError, got %v", err)
	}
	assertStoreEmpty(t, e)
}

// TestFetchDockerRedirectKeepsCredentials: a registry that needs basic
// auth redirects a blob to another host; the credentials are not sent
// there.
func TestFetchDockerRedirectKeepsCredentials(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var leaked []string
	blobs, _ := newRegistryHandler()
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if a := r.Header.Get("Authorization"); a != "" {
			leaked = append(leaked, a)
		}
		mu.Unlock()
		blobs.ServeHTTP(w, r)
	}))
	defer cdn.Close()
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") && ok {
			http.Redirect(w, r, cdn.URL+r.URL.Path, http.StatusTemporaryRedirect)
			return
		}
		if !ok || u != "me" || p != "secret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		blobs.ServeHTTP(w, r)
	}))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	img := testImage(t, v1.Config{Cmd: []string{"/x"}}, layerTar(t, tarEntry{name: "x", body: "x"}))
	r, _ := name.ParseReference(host+"/h/app:1", name.Insecure)
	if err := remote.Write(r, img, remote.WithAuth(&basicAuth{"me", "secret"})); err != nil {
		t.Fatal(err)
	}
	f := e.ociFetcher()
	f.DockerAuth = map[string]DockerCredential{host: {User: "me", Password: "secret"}}
	if _, err := f.Fetch(context.Background(), "docker://"+host+"/h/app:1", ""); err != nil {
		t.Fatalf("fetch through a redirect: %v", err)
	}
	if len(leaked) != 0 {
		t.Errorf("credentials sent to the redirect's host: %v", leaked)
	}
}
