package fetch

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/stage0/discovery"
	"github.com/rkt/rkt/stage0/insecure"
	"github.com/rkt/rkt/stage0/transport"
	"github.com/rkt/rkt/stage0/trust"
	"github.com/rkt/rkt/stage0/trust/trusttest"
	"github.com/rkt/rkt/store"
	"github.com/rkt/rkt/store/storetest"
)

// env is one store, one keystore and a log, all in temp dirs.
type env struct {
	t     *testing.T
	dir   string
	store *store.Store
	ks    *trust.Keystore
	local string
	log   *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	local := filepath.Join(dir, "etc")
	return &env{
		t:     t,
		dir:   dir,
		store: st,
		ks:    trust.New(filepath.Join(dir, "usr"), local),
		local: local,
		log:   &syncBuffer{},
	}
}

func (e *env) trust(prefix string, k *trusttest.Key) {
	e.t.Helper()
	trusttest.WriteKeyring(e.t, e.local, prefix, k)
}

func (e *env) fetcher(client *http.Client, policy PullPolicy) *Fetcher {
	return &Fetcher{
		Store:      e.store,
		Keystore:   e.ks,
		Client:     client,
		PullPolicy: policy,
		Log:        slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// writeFile writes data to a file in the env's dir and returns its path.
func (e *env) writeFile(name string, data []byte) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// assertEmpty checks that no image, blob or tree became visible.
func (e *env) assertEmpty() {
	e.t.Helper()
	imgs, err := e.store.Images()
	if err != nil {
		e.t.Fatal(err)
	}
	if len(imgs) != 0 {
		e.t.Fatalf("store holds %d images after a refusal: %+v", len(imgs), imgs)
	}
	for _, sub := range []string{"cas/blob", "cas/tree"} {
		filepath.WalkDir(filepath.Join(e.dir, "data", sub), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				e.t.Errorf("file %s left after a refusal", p)
			}
			return nil
		})
	}
}

// server is an https server of images, signatures, keys and discovery pages.
type server struct {
	*httptest.Server
	t    *testing.T
	mu   sync.Mutex
	res  map[string]resource
	meta map[string]string // path -> meta tags
	hits map[string]int
	auth map[string]string // path -> Authorization seen last
}

type resource struct {
	body    []byte
	etag    string
	cache   string // Cache-Control
	handler http.HandlerFunc
}

func newServer(t *testing.T) *server {
	s := &server{t: t, res: map[string]resource{}, meta: map[string]string{}, hits: map[string]int{}, auth: map[string]string{}}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits[r.URL.Path]++
	s.auth[r.URL.Path] = r.Header.Get("Authorization")
	res, ok := s.res[r.URL.Path]
	meta, isMeta := s.meta[r.URL.Path]
	s.mu.Unlock()
	if r.URL.Query().Get("ac-discovery") == "1" {
		if !isMeta {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "<!DOCTYPE html><html><head>%s</head><body></body></html>", meta)
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	if res.handler != nil {
		res.handler(w, r)
		return
	}
	if res.cache != "" {
		w.Header().Set("Cache-Control", res.cache)
	}
	if res.etag != "" {
		w.Header().Set("ETag", res.etag)
		if r.Header.Get("If-None-Match") == res.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(res.body)))
	w.Write(res.body)
}

func (s *server) put(path string, r resource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.res[path] = r
}

func (s *server) putMeta(path, tags string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.meta[path] = tags
}

func (s *server) hit(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func (s *server) authSeen(path string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auth[path]
}

func (s *server) port() uint {
	u, _ := url.Parse(s.URL)
	p, _ := strconv.Atoi(u.Port())
	return uint(p)
}

func (s *server) hostPort() string { return strings.TrimPrefix(s.URL, "https://") }

// client trusts s's certificate only.
func (s *server) client(set insecure.Set, auth map[string]http.Header) *http.Client {
	return transport.New(transport.Options{
		Insecure: set,
		Auth:     auth,
		RootCAs:  s.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs,
		Log:      slog.New(slog.DiscardHandler),
	})
}

// discoverable publishes aci (signed by k unless sig is given) under the
// appc name of its manifest, with a discovery page for prefix.
func (s *server) discoverable(prefix, name, version string, aci, sig []byte) (aciPath string) {
	s.putMeta("/"+strings.TrimPrefix(prefix, "127.0.0.1/"),
		fmt.Sprintf(`<meta name="ac-discovery" content="%s https://127.0.0.1:%d/images/{version}/{name}-{os}-{arch}.{ext}">`, prefix, s.port()))
	aciPath = fmt.Sprintf("/images/%s/%s-%s-%s.aci", version, name, defaultLabels()["os"], defaultLabels()["arch"])
	s.put(aciPath, resource{body: aci})
	if sig != nil {
		s.put(aciPath+".asc", resource{body: sig})
	}
	return aciPath
}

// defaultLabels are the os and arch labels of this system.
func defaultLabels() map[string]string {
	img, _ := discovery.ParseName("example.com/x")
	return img.Labels
}

// image builds an ACI named name with a file "name-file" holding body.
func image(t *testing.T, name string, labels map[string]string, body string) []byte {
	t.Helper()
	return storetest.BuildACI(t, name, labels, storetest.File{Name: "hello.txt", Body: []byte(body)})
}

func bg() context.Context { return context.Background() }

// depOn is a dependency on an image name, without ID.
func depOn(t *testing.T, name string) types.Dependency {
	t.Helper()
	id, err := types.NewACIdentifier(name)
	if err != nil {
		t.Fatal(err)
	}
	return types.Dependency{ImageName: *id}
}
