// Package transport builds the one *http.Client every stage0 download goes
// through: image and signature fetches, appc discovery, key discovery.
//
// Invariants:
//   - TLS certificates are verified against the system roots (SSL_CERT_FILE
//     and SSL_CERT_DIR are honoured by Go) plus Options.RootCAs, unless the
//     insecure set has TLS; then verification is off and a warning is logged
//     once, when the client is built.
//   - Plain http is refused (ErrPlainHTTP) unless the insecure set has HTTP,
//     also when a redirect leads there.
//   - A per-domain auth header is attached by the transport itself, on each
//     hop, and only when that hop's host is the configured domain. The
//     http.Client never sees the header, so it cannot carry it across a
//     redirect to another host.
//   - Every request carries User-Agent: rkt/<version>.
package transport

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rkt/rkt/stage0/insecure"
	"github.com/rkt/rkt/stage0/version"
)

// Options configures New.
type Options struct {
	// Insecure: TLS turns certificate verification off, HTTP allows plain
	// http. Other options are ignored here.
	Insecure insecure.Set
	// Auth maps a domain (a host name, or host:port) to the headers sent to
	// it, typically an Authorization header built from auth.d.
	Auth map[string]http.Header
	// Version is the project version put in the User-Agent; empty means
	// stage0/version.Version.
	Version string
	// RootCAs, when set, replaces the system roots (tests, private CAs).
	RootCAs *x509.CertPool
	// Log receives the insecure-TLS warning. Nil: slog.Default().
	Log *slog.Logger
}

// New returns a client configured by opts. It has no overall timeout (image
// downloads may be long); connection, TLS handshake and response-header
// waits are bounded, and callers bound the rest with their context.
func New(opts Options) *http.Client {
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	base := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			RootCAs:    opts.RootCAs,
		},
	}
	if opts.Insecure.Has(insecure.TLS) {
		base.TLSClientConfig.InsecureSkipVerify = true
		log.Warn("TLS certificate verification has been disabled (--insecure-options=tls)")
	}
	ua := "rkt/" + version.Version
	if opts.Version != "" {
		ua = "rkt/" + opts.Version
	}
	auth := make(map[string]http.Header, len(opts.Auth))
	for domain, h := range opts.Auth {
		auth[strings.ToLower(domain)] = h.Clone()
	}
	return &http.Client{
		Transport: &roundTripper{
			base:      base,
			userAgent: ua,
			auth:      auth,
			allowHTTP: opts.Insecure.Has(insecure.HTTP),
		},
	}
}

// roundTripper adds the user agent and the per-domain headers, and enforces
// the http policy, on every hop.
type roundTripper struct {
	base      http.RoundTripper
	userAgent string
	auth      map[string]http.Header
	allowHTTP bool
}

func (rt *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.URL.Scheme {
	case "https":
	case "http":
		if !rt.allowHTTP {
			closeBody(req)
			return nil, fmt.Errorf("requesting %s: %w", req.URL.Redacted(), ErrPlainHTTP)
		}
	default:
		closeBody(req)
		return nil, fmt.Errorf("requesting %s: unsupported scheme %q", req.URL.Redacted(), req.URL.Scheme)
	}
	out := req.Clone(req.Context())
	if out.Header.Get("User-Agent") == "" {
		out.Header.Set("User-Agent", rt.userAgent)
	}
	if h := rt.headersFor(req.URL.Scheme, req.URL.Host); h != nil {
		for k, vs := range h {
			out.Header[k] = append([]string(nil), vs...)
		}
	}
	return rt.base.RoundTrip(out)
}

// headersFor returns the configured headers for host (as in a URL: name or
// name:port). A domain without a port also matches the scheme's default
// port written out; nothing else matches, not even a subdomain.
func (rt *roundTripper) headersFor(scheme, host string) http.Header {
	host = strings.ToLower(host)
	if h, ok := rt.auth[host]; ok {
		return h
	}
	name, port, err := net.SplitHostPort(host)
	if err != nil {
		return nil
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		return rt.auth[name]
	}
	return nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// BasicAuth returns the header an auth.d "basic" entry sends.
func BasicAuth(user, password string) http.Header {
	r := &http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, password)
	return r.Header
}

// BearerAuth returns the header an auth.d "oauth" entry sends.
func BearerAuth(token string) http.Header {
	return http.Header{"Authorization": []string{"Bearer " + token}}
}
