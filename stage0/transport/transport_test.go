package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rkt/rkt/stage0/insecure"
)

// recorder is a TLS server that remembers the headers of each request.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []http.Header
}

func newRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	t.Helper()
	r := &recorder{}
	r.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.seen = append(r.seen, req.Header.Clone())
		r.mu.Unlock()
		if h != nil {
			h(w, req)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) headers() []http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]http.Header(nil), r.seen...)
}

func (r *recorder) host() string { return strings.TrimPrefix(r.URL, "https://") }

func get(t *testing.T, c *http.Client, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func TestVerifiesTLSByDefault(t *testing.T) {
	srv := newRecorder(t, nil)
	c := New(Options{})
	if _, err := get(t, c, srv.URL); err == nil {
		t.Fatal("self-signed server accepted without --insecure-options=tls")
	}
	c = New(Options{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs})
	if _, err := get(t, c, srv.URL); err != nil {
		t.Fatalf("server with a trusted root refused: %v", err)
	}
}

func TestInsecureTLSWarnsAndConnects(t *testing.T) {
	srv := newRecorder(t, nil)
	var logBuf bytes.Buffer
	c := New(Options{Insecure: insecure.TLS, Log: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if !strings.Contains(logBuf.String(), "TLS certificate verification has been disabled") {
		t.Fatalf("no warning logged at construction: %q", logBuf.String())
	}
	if _, err := get(t, c, srv.URL); err != nil {
		t.Fatalf("insecure TLS refused a self-signed server: %v", err)
	}
	logBuf.Reset()
	New(Options{Log: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if logBuf.Len() != 0 {
		t.Fatalf("secure client logged %q", logBuf.String())
	}
}

func TestUserAgent(t *testing.T) {
	srv := newRecorder(t, nil)
	c := New(Options{Insecure: insecure.TLS, Version: "1.30.0", Log: slog.New(slog.DiscardHandler)})
	if _, err := get(t, c, srv.URL); err != nil {
		t.Fatal(err)
	}
	if got := srv.headers()[0].Get("User-Agent"); got != "rkt/1.30.0" {
		t.Fatalf("User-Agent = %q", got)
	}
}

func TestPlainHTTPRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	if _, err := get(t, New(Options{}), srv.URL); !errors.Is(err, ErrPlainHTTP) {
		t.Fatalf("plain http: err = %v, want ErrPlainHTTP", err)
	}
	if _, err := get(t, New(Options{Insecure: insecure.HTTP}), srv.URL); err != nil {
		t.Fatalf("plain http with --insecure-options=http: %v", err)
	}

	// An https server redirecting to http is refused too.
	tlsSrv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, srv.URL+"/x", http.StatusFound)
	})
	c := New(Options{Insecure: insecure.TLS, Log: slog.New(slog.DiscardHandler)})
	if _, err := get(t, c, tlsSrv.URL); !errors.Is(err, ErrPlainHTTP) {
		t.Fatalf("redirect to http: err = %v, want ErrPlainHTTP", err)
	}
}

func TestAuthOnlyToItsDomain(t *testing.T) {
	other := newRecorder(t, nil)
	var mine *recorder
	mine = newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/landed", http.StatusFound)
		case "/home":
			http.Redirect(w, r, mine.URL+"/landed", http.StatusFound)
		default:
			io.WriteString(w, "ok")
		}
	})
	c := New(Options{
		Insecure: insecure.TLS,
		Log:      slog.New(slog.DiscardHandler),
		Auth: map[string]http.Header{
			mine.host(): BasicAuth("alice", "s3cret"),
		},
	})
	wantAuth := BasicAuth("alice", "s3cret").Get("Authorization")

	for _, path := range []string{"/direct", "/home", "/away"} {
		if _, err := get(t, c, mine.URL+path); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if _, err := get(t, c, other.URL+"/direct"); err != nil {
		t.Fatal(err)
	}
	// mine: /direct, /home, /landed (same-host redirect), /away.
	for i, h := range mine.headers() {
		if got := h.Get("Authorization"); got != wantAuth {
			t.Errorf("request %d to the configured domain: Authorization = %q, want %q", i, got, wantAuth)
		}
	}
	// other: /landed after a cross-host redirect, then /direct.
	hs := other.headers()
	if len(hs) != 2 {
		t.Fatalf("other host saw %d requests, want 2", len(hs))
	}
	for i, h := range hs {
		if got := h.Get("Authorization"); got != "" {
			t.Errorf("request %d to another host carried Authorization %q", i, got)
		}
	}
}

func TestBearerAuth(t *testing.T) {
	if got := BearerAuth("tok").Get("Authorization"); got != "Bearer tok" {
		t.Fatalf("BearerAuth = %q", got)
	}
	h := (&roundTripper{auth: map[string]http.Header{"example.com": BearerAuth("t")}})
	if h.headersFor("https", "example.com:443") == nil {
		t.Error("explicit default port does not match the domain")
	}
	if h.headersFor("https", "example.com:8443") != nil {
		t.Error("another port matched a domain without port")
	}
	if h.headersFor("https", "evil.example.com") != nil || h.headersFor("https", "example.com.evil") != nil {
		t.Error("another host matched")
	}
}
