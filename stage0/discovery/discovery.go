// Package discovery finds where an appc image name's ACI, signature and
// signing keys live (appc meta discovery), through the stage0 HTTP client.
//
// It wraps github.com/appc/spec/discovery v0.8.11. That package sends every
// request through two process-wide *http.Client values captured at its
// init; this package points their Transport, once, at a dispatcher that
// forwards to the transport of the client given in Options and attaches the
// caller's context. Because that state is process-wide, discovery calls are
// serialised by a package mutex. Consequences worth knowing:
//   - TLS policy, the plain-http policy, per-domain auth and the user agent
//     are those of Options.Client (stage0/transport); the appc package's own
//     insecure-TLS client is never selected.
//   - https is always tried first; plain http only when Options.Insecure has
//     HTTP (and the client allows it).
//
// Names: ParseName reads rkt's command-line form
// (`example.com/app:1.0,os=linux`) and fills the os and arch labels from the
// running system when they are not given, as rkt does.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	appc "github.com/appc/spec/discovery"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/stage0/insecure"
)

// Image is an appc image name with the labels asked for.
type Image struct {
	Name   string
	Labels map[string]string
}

// hostOSArch is the running system's os and arch in appc's spellings.
// Computed once: types.ToAppcOSArch builds its tables on every call,
// about 15 page faults of each `rkt run`.
var hostOSArch = sync.OnceValues(func() (string, string) {
	os, arch, err := types.ToAppcOSArch(runtime.GOOS, runtime.GOARCH, "")
	if err != nil {
		return runtime.GOOS, runtime.GOARCH
	}
	return os, arch
})

// ParseName parses `name[:version][,label=value...]`. The os and arch labels
// default to the running system's (appc spellings, e.g. arch=amd64); version
// stays absent when not given, which discovery renders as "latest".
func ParseName(s string) (Image, error) {
	app, err := appc.NewAppFromString(s)
	if err != nil {
		return Image{}, fmt.Errorf("parsing image name %q: %w", s, err)
	}
	img := Image{Name: app.Name.String(), Labels: map[string]string{}}
	for k, v := range app.Labels {
		img.Labels[k.String()] = v
	}
	os, arch := hostOSArch()
	if _, ok := img.Labels["os"]; !ok {
		img.Labels["os"] = os
	}
	if _, ok := img.Labels["arch"]; !ok {
		img.Labels["arch"] = arch
	}
	return img, nil
}

// String prints the image in ParseName's form, labels sorted, version first.
func (img Image) String() string {
	var b strings.Builder
	b.WriteString(img.Name)
	if v, ok := img.Labels["version"]; ok {
		b.WriteString(":" + v)
	}
	for _, k := range slices.Sorted(maps.Keys(img.Labels)) {
		if k != "version" {
			fmt.Fprintf(&b, ",%s=%s", k, img.Labels[k])
		}
	}
	return b.String()
}

func (img Image) app() (*appc.App, error) {
	labels := make(map[types.ACIdentifier]string, len(img.Labels))
	for k, v := range img.Labels {
		id, err := types.NewACIdentifier(k)
		if err != nil {
			return nil, fmt.Errorf("label %q: %w", k, err)
		}
		labels[*id] = v
	}
	app, err := appc.NewApp(img.Name, labels)
	if err != nil {
		return nil, fmt.Errorf("image name %q: %w", img.Name, err)
	}
	return app, nil
}

// Options configures a discovery.
type Options struct {
	// Client carries every request (see stage0/transport). Nil: http.DefaultClient.
	Client *http.Client
	// Insecure: HTTP allows falling back to plain http.
	Insecure insecure.Set
	// Port, when not 0, is used instead of the scheme's default port
	// (servers on unprivileged ports, tests).
	Port uint
}

// Endpoint is where one discovered ACI and its signature are.
type Endpoint struct {
	ACI string // the image URL
	ASC string // its detached signature
}

// DiscoverACI walks img.Name up its path, asking each prefix for
// ac-discovery meta tags, and returns the endpoints of the first prefix that
// has some, templates rendered with img's labels.
func DiscoverACI(ctx context.Context, opts Options, img Image) ([]Endpoint, error) {
	app, err := img.app()
	if err != nil {
		return nil, fmt.Errorf("discovering %q: %w", img.Name, err)
	}
	var eps appc.ACIEndpoints
	var attempts []appc.FailedAttempt
	err = withClient(ctx, opts.Client, func() error {
		var err error
		eps, attempts, err = appc.DiscoverACIEndpoints(*app, nil, appcInsecure(opts), opts.Port)
		return err
	})
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("discovering %q: %w", img.String(), err)
	}
	if errors.Is(err, ErrPageTooLarge) {
		return nil, fmt.Errorf("discovering %q: %w", img.String(), err)
	}
	if err != nil || len(eps) == 0 {
		return nil, &Error{Image: img.String(), Meta: "ac-discovery", Attempts: failed(attempts)}
	}
	out := make([]Endpoint, 0, len(eps))
	for _, ep := range eps {
		out = append(out, Endpoint{ACI: ep.ACI, ASC: ep.ASC})
	}
	return out, nil
}

// DiscoverPublicKeys walks name up its path asking for ac-discovery-pubkeys
// meta tags and returns the key URLs of the first prefix that has some.
// Whether those URLs may be plain http is the caller's decision.
func DiscoverPublicKeys(ctx context.Context, opts Options, name string) ([]string, error) {
	app, err := Image{Name: name}.app()
	if err != nil {
		return nil, fmt.Errorf("discovering keys for %q: %w", name, err)
	}
	var keys appc.PublicKeys
	var attempts []appc.FailedAttempt
	err = withClient(ctx, opts.Client, func() error {
		var err error
		keys, attempts, err = appc.DiscoverPublicKeys(*app, nil, appcInsecure(opts), opts.Port)
		return err
	})
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("discovering keys for %q: %w", name, err)
	}
	if errors.Is(err, ErrPageTooLarge) {
		return nil, fmt.Errorf("discovering keys for %q: %w", name, err)
	}
	if err != nil || len(keys) == 0 {
		return nil, &Error{Image: name, Meta: "ac-discovery-pubkeys", Attempts: failed(attempts)}
	}
	return keys, nil
}

func appcInsecure(opts Options) appc.InsecureOption {
	// TLS policy is the client's; only the http fallback is decided here.
	if opts.Insecure.Has(insecure.HTTP) {
		return appc.InsecureHTTP
	}
	return appc.InsecureNone
}

func failed(in []appc.FailedAttempt) []Attempt {
	out := make([]Attempt, 0, len(in))
	for _, a := range in {
		out = append(out, Attempt{Prefix: a.Prefix, Err: a.Error})
	}
	return out
}

// The appc package's clients, redirected to the current caller's transport.
var (
	callMu  sync.Mutex // held for the whole of one discovery
	current atomic.Pointer[route]
	install sync.Once
)

type route struct {
	ctx      context.Context
	rt       http.RoundTripper
	tooLarge atomic.Pointer[string] // the first page cut off at MaxPageSize
}

// MaxPageSize caps the bytes read from one discovery page. The appc parser
// reads a page to its end; without a cap, a server that never stops
// sending would hold rkt and grow its memory for as long as it liked.
const MaxPageSize = 1 << 20

// cappedBody ends a response body after MaxPageSize bytes with an error,
// and records the page on its route so that the discovery fails instead of
// going on with the tags read so far.
type cappedBody struct {
	io.ReadCloser
	left  int64
	url   string
	route *route
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a page of exactly MaxPageSize from a longer one.
		var one [1]byte
		if n, _ := b.ReadCloser.Read(one[:]); n == 0 {
			return 0, io.EOF
		}
		b.route.tooLarge.CompareAndSwap(nil, &b.url)
		return 0, fmt.Errorf("%w: %s", ErrPageTooLarge, b.url)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

type dispatcher struct{}

func (dispatcher) RoundTrip(req *http.Request) (*http.Response, error) {
	r := current.Load()
	if r == nil {
		return nil, fmt.Errorf("requesting %s: discovery client used outside a discovery", req.URL.Redacted())
	}
	resp, err := r.rt.RoundTrip(req.WithContext(r.ctx))
	if err != nil {
		return nil, err
	}
	resp.Body = &cappedBody{ReadCloser: resp.Body, left: MaxPageSize, url: req.URL.Redacted(), route: r}
	return resp, nil
}

func withClient(ctx context.Context, c *http.Client, f func() error) error {
	install.Do(func() {
		appc.Client.Transport = dispatcher{}
		appc.ClientInsecureTLS.Transport = dispatcher{}
	})
	rt := http.DefaultTransport
	if c != nil && c.Transport != nil {
		rt = c.Transport
	}
	callMu.Lock()
	defer callMu.Unlock()
	r := &route{ctx: ctx, rt: rt}
	current.Store(r)
	defer current.Store(nil)
	err := f()
	if u := r.tooLarge.Load(); u != nil {
		return fmt.Errorf("%w: %s (more than %d bytes)", ErrPageTooLarge, *u, MaxPageSize)
	}
	return err
}
