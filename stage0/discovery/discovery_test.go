package discovery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rkt/rkt/stage0/insecure"
	"github.com/rkt/rkt/stage0/transport"
)

func TestParseName(t *testing.T) {
	img, err := ParseName("example.com/app:1.0,os=linux,channel=alpha")
	if err != nil {
		t.Fatal(err)
	}
	if img.Name != "example.com/app" {
		t.Errorf("Name = %q", img.Name)
	}
	if img.Labels["version"] != "1.0" || img.Labels["os"] != "linux" || img.Labels["channel"] != "alpha" {
		t.Errorf("Labels = %v", img.Labels)
	}
	if runtime.GOARCH == "amd64" && img.Labels["arch"] != "amd64" {
		t.Errorf("default arch = %q, want amd64", img.Labels["arch"])
	}
	if got, want := img.String(), "example.com/app:1.0,arch="+img.Labels["arch"]+",channel=alpha,os=linux"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}

	img, err = ParseName("example.com/app")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.Labels["version"]; ok {
		t.Errorf("version set without being asked: %v", img.Labels)
	}
	if img.Labels["os"] != runtime.GOOS {
		t.Errorf("default os = %q", img.Labels["os"])
	}

	for _, bad := range []string{"Example.com/App", "example.com/app:1:2", "example.com/app,os=linux:1.0", ""} {
		if _, err := ParseName(bad); err == nil {
			t.Errorf("ParseName(%q) accepted", bad)
		}
	}
}

// metaServer serves discovery pages: prefix (path) -> meta tags.
func metaServer(t *testing.T, tls bool, pages map[string]string, hits *atomic.Int32, sawAuth *atomic.Value) (*httptest.Server, uint) {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits != nil {
			hits.Add(1)
		}
		if sawAuth != nil {
			sawAuth.Store(r.Header.Get("Authorization"))
		}
		if r.URL.Query().Get("ac-discovery") != "1" {
			http.Error(w, "not a discovery", http.StatusBadRequest)
			return
		}
		metas, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "<html><head>%s</head></html>", metas)
	})
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())
	return srv, uint(port)
}

func client(srv *httptest.Server, set insecure.Set, auth map[string]http.Header) *http.Client {
	var c *http.Client
	opts := transport.Options{Insecure: set, Auth: auth, Log: slog.New(slog.DiscardHandler)}
	if srv.TLS != nil {
		opts.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	}
	c = transport.New(opts)
	return c
}

func TestDiscoverACI(t *testing.T) {
	host := "127.0.0.1"
	pages := map[string]string{
		"/example": `<meta name="ac-discovery" content="127.0.0.1/example https://127.0.0.1/dl/{name}-{version}-{os}-{arch}.{ext}">` +
			`<meta name="ac-discovery-pubkeys" content="127.0.0.1/example https://127.0.0.1/pubkeys.gpg">`,
	}
	var auth atomic.Value
	srv, port := metaServer(t, true, pages, nil, &auth)
	hostPort := strings.TrimPrefix(srv.URL, "https://")
	c := client(srv, 0, map[string]http.Header{hostPort: transport.BearerAuth("tok")})

	img, err := ParseName(host + "/example/app:1.0,os=linux,arch=amd64")
	if err != nil {
		t.Fatal(err)
	}
	eps, err := DiscoverACI(context.Background(), Options{Client: c, Port: port}, img)
	if err != nil {
		t.Fatalf("DiscoverACI: %v", err)
	}
	want := Endpoint{
		ACI: "https://127.0.0.1/dl/127.0.0.1/example/app-1.0-linux-amd64.aci",
		ASC: "https://127.0.0.1/dl/127.0.0.1/example/app-1.0-linux-amd64.aci.asc",
	}
	if len(eps) != 1 || eps[0] != want {
		t.Fatalf("endpoints = %+v, want %+v", eps, want)
	}
	if got := auth.Load(); got != "Bearer tok" {
		t.Errorf("discovery request carried Authorization %q, want the configured one", got)
	}

	// Without a version, the template gets "latest".
	img, _ = ParseName(host + "/example/app,os=linux,arch=amd64")
	eps, err = DiscoverACI(context.Background(), Options{Client: c, Port: port}, img)
	if err != nil || !strings.Contains(eps[0].ACI, "app-latest-linux") {
		t.Fatalf("latest: %+v, %v", eps, err)
	}

	keys, err := DiscoverPublicKeys(context.Background(), Options{Client: c, Port: port}, host+"/example/app")
	if err != nil || len(keys) != 1 || keys[0] != "https://127.0.0.1/pubkeys.gpg" {
		t.Fatalf("DiscoverPublicKeys = %v, %v", keys, err)
	}
}

func TestDiscoverNotFound(t *testing.T) {
	srv, port := metaServer(t, true, map[string]string{"/other": `<meta name="ac-discovery" content="127.0.0.1/other https://x/{name}.{ext}">`}, nil, nil)
	img, _ := ParseName("127.0.0.1/example/app")
	_, err := DiscoverACI(context.Background(), Options{Client: client(srv, 0, nil), Port: port}, img)
	var de *Error
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want *Error", err)
	}
	// Every prefix was tried: 127.0.0.1/example/app, 127.0.0.1/example, 127.0.0.1.
	if len(de.Attempts) != 3 || de.Attempts[0].Prefix != "127.0.0.1/example/app" {
		t.Errorf("attempts = %+v", de.Attempts)
	}
	if !strings.Contains(err.Error(), "ac-discovery") {
		t.Errorf("message %q does not name the meta tag", err)
	}
}

func TestDiscoverUsesTLSPolicy(t *testing.T) {
	pages := map[string]string{"/example": `<meta name="ac-discovery" content="127.0.0.1/example https://h/{name}.{ext}">`}
	srv, port := metaServer(t, true, pages, nil, nil)
	img, _ := ParseName("127.0.0.1/example/app")
	// A client without the server's root must not discover anything.
	c := transport.New(transport.Options{Log: slog.New(slog.DiscardHandler)})
	if _, err := DiscoverACI(context.Background(), Options{Client: c, Port: port}, img); err == nil {
		t.Fatal("discovery succeeded against an untrusted certificate")
	}
	// With --insecure-options=tls it does.
	c = transport.New(transport.Options{Insecure: insecure.TLS, Log: slog.New(slog.DiscardHandler)})
	if _, err := DiscoverACI(context.Background(), Options{Client: c, Port: port}, img); err != nil {
		t.Fatalf("insecure TLS discovery: %v", err)
	}
	_ = srv
}

func TestDiscoverHTTPOnlyWhenInsecure(t *testing.T) {
	pages := map[string]string{"/example": `<meta name="ac-discovery" content="127.0.0.1/example http://127.0.0.1/{name}.{ext}">`}
	var hits atomic.Int32
	srv, port := metaServer(t, false, pages, &hits, nil)
	img, _ := ParseName("127.0.0.1/example/app")
	if _, err := DiscoverACI(context.Background(), Options{Client: client(srv, insecure.HTTP, nil), Port: port}, img); err == nil {
		t.Fatal("discovery fell back to http without --insecure-options=http")
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("plain http server got %d requests without --insecure-options=http", n)
	}
	eps, err := DiscoverACI(context.Background(), Options{Client: client(srv, insecure.HTTP, nil), Insecure: insecure.HTTP, Port: port}, img)
	if err != nil || len(eps) != 1 {
		t.Fatalf("http discovery: %v, %v", eps, err)
	}
}

func TestDiscoverCancelled(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
		io.WriteString(w, "")
	}))
	defer srv.Close()
	defer close(block)
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	img, _ := ParseName("127.0.0.1/example/app")
	_, err := DiscoverACI(ctx, Options{Client: client(srv, 0, nil), Port: uint(port)}, img)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// A server that sends a valid tag and then never stops must not hold rkt,
// and the tag it sent first must not be used.
func TestDiscoverPageTooLarge(t *testing.T) {
	tag := `<html><head><meta name="ac-discovery" content="127.0.0.1/example https://127.0.0.1/{name}.{ext}">`
	var sent atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/example" {
			http.NotFound(w, r)
			return
		}
		n, _ := io.WriteString(w, tag)
		sent.Add(int64(n))
		pad := bytes.Repeat([]byte("<!-- padding -->"), 4096)
		for r.Context().Err() == nil && sent.Load() < 64<<20 {
			n, err := w.Write(pad)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())
	img, _ := ParseName("127.0.0.1/example/app")
	eps, err := DiscoverACI(context.Background(), Options{Client: client(srv, 0, nil), Port: uint(port)}, img)
	if !errors.Is(err, ErrPageTooLarge) {
		t.Fatalf("DiscoverACI = %v, %v; want ErrPageTooLarge", eps, err)
	}
	if !strings.Contains(err.Error(), "/example") {
		t.Errorf("error %q does not name the page", err)
	}
	if s := sent.Load(); s >= 64<<20 {
		t.Errorf("server sent %d bytes: the read was not cut off", s)
	}
}

// A page of exactly MaxPageSize bytes is still read whole.
func TestDiscoverPageAtLimit(t *testing.T) {
	head := `<html><head><meta name="ac-discovery" content="127.0.0.1/example https://127.0.0.1/{name}.{ext}"></head><body>`
	page := head + strings.Repeat("x", MaxPageSize-len(head))
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/example" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, page)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())
	img, _ := ParseName("127.0.0.1/example/app")
	eps, err := DiscoverACI(context.Background(), Options{Client: client(srv, 0, nil), Port: uint(port)}, img)
	if err != nil || len(eps) != 1 {
		t.Fatalf("DiscoverACI = %v, %v; want one endpoint", eps, err)
	}
}
