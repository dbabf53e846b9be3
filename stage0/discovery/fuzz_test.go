package discovery

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// pageServer serves one discovery page, the current one, for every path,
// over TLS; its client reaches it whatever host a URL names.
type pageServer struct {
	mu     sync.Mutex
	page   []byte
	client *http.Client
}

func newPageServer(f *testing.F) *pageServer {
	ps := &pageServer{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps.mu.Lock()
		page := ps.page
		ps.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	f.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	var d net.Dialer
	ps.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		// The test certificate is valid for example.com.
		TLSClientConfig: &tls.Config{
			RootCAs:    srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs,
			ServerName: "example.com",
		},
	}}
	return ps
}

func (ps *pageServer) serve(page []byte) {
	ps.mu.Lock()
	ps.page = page
	ps.mu.Unlock()
}

var templateLeft = regexp.MustCompile(`{.*?}`)

// FuzzDiscovery feeds ParseName an arbitrary image name and discovery an
// arbitrary HTML page, served over TLS for every prefix of the name. Seeds
// are discovery pages as coreos.com and quay.io served them, and one with
// labels, several tags and tags that must be skipped (testdata/*.html).
// Properties:
//   - a parsed name prints (String) as a name that parses to the same
//     image;
//   - for a parsed name, discovery fails only with an *Error (no tag
//     found), whatever the page;
//   - discovered ACI and signature URLs are rendered templates with no
//     template expression left; discovered key URLs are not empty.
func FuzzDiscovery(f *testing.F) {
	pages, err := filepath.Glob(filepath.Join("testdata", "*.html"))
	if err != nil || len(pages) == 0 {
		f.Fatalf("no seed pages in testdata (%v)", err)
	}
	names := []string{
		"coreos.com/etcd:v2.0.0", "quay.io/coreos/alpine-sh", "coreos.com/rkt/stage1-coreos:1.30.0,arch=amd64",
		"example.com/app:1.0,os=linux,arch=amd64,channel=alpha",
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, n := range names {
			f.Add(n, b)
		}
	}
	ps := newPageServer(f)
	f.Fuzz(func(t *testing.T, name string, page []byte) {
		img, err := ParseName(name)
		if err != nil {
			return
		}
		again, err := ParseName(img.String())
		if err != nil || !reflect.DeepEqual(again, img) {
			t.Fatalf("ParseName(%q) = %+v, printed %q, parsed back as %+v (%v)", name, img, img.String(), again, err)
		}

		ps.serve(page)
		opts := Options{Client: ps.client}
		eps, err := DiscoverACI(context.Background(), opts, img)
		var de *Error
		switch {
		case errors.As(err, &de):
		case err != nil:
			t.Fatalf("DiscoverACI(%+v): %v, want *Error", img, err)
		case len(eps) == 0:
			t.Fatalf("DiscoverACI(%+v): no endpoints and no error", img)
		}
		for _, ep := range eps {
			// ACI and ASC are the same URL when the template has no
			// {ext}, as appc (and rkt 1.30) render it: the signature
			// fetched from there does not parse, so that fails closed.
			if ep.ACI == "" || ep.ASC == "" ||
				templateLeft.MatchString(ep.ACI) || templateLeft.MatchString(ep.ASC) {
				t.Fatalf("DiscoverACI(%+v): endpoint %+v", img, ep)
			}
		}
		keys, err := DiscoverPublicKeys(context.Background(), opts, img.Name)
		switch {
		case errors.As(err, &de):
		case err != nil:
			t.Fatalf("DiscoverPublicKeys(%q): %v, want *Error", img.Name, err)
		case len(keys) == 0:
			t.Fatalf("DiscoverPublicKeys(%q): no keys and no error", img.Name)
		}
		for _, k := range keys {
			if strings.TrimSpace(k) == "" {
				t.Fatalf("DiscoverPublicKeys(%q): empty key URL in %q", img.Name, keys)
			}
		}
	})
}
