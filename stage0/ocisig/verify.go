package ocisig

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rkt/rkt/stage0/trust"
)

// MaxSignatures is how many signatures Verify reads from one source (a
// lookaside, a .sig image), enough for rotations and several signers.
const MaxSignatures = 16

// Request names the image whose signatures are verified.
type Request struct {
	// Name is the trust name: registry/repository without tag or digest,
	// e.g. "localhost:5000/team/app" or "docker.io/library/busybox".
	Name string
	// Reference is the reference as pulled, e.g. "localhost:5000/team/app:1"
	// or "...@sha256:<hex>": the docker reference signatures must bind.
	Reference string
	// ManifestDigest is "sha256:<hex>" of the manifest pulled.
	ManifestDigest string
	// Repository is where cosign's .sig tag is looked up; zero for
	// layouts and archives.
	Repository name.Repository
	// RemoteOptions reach the registry (transport, auth, context).
	RemoteOptions []remote.Option
	// LayoutPath is an OCI layout directory that may hold cosign
	// signature manifests (as `cosign save` writes), or "".
	LayoutPath string
	// Layout, when not nil, is that layout as a file system (an
	// oci-archive read in memory, say); it takes precedence over
	// LayoutPath.
	Layout fs.FS
}

// Options say where simple signatures are looked up and how.
type Options struct {
	// RegistriesDirs are the registries.d directories; nil means
	// DefaultRegistriesDir.
	RegistriesDirs []string
	// Client reads https:// (and, with AllowHTTP, http://) lookasides;
	// nil means http.DefaultClient.
	Client *http.Client
	// AllowHTTP lets a plain http:// lookaside be read
	// (--insecure-options=http); it never weakens the signature checks.
	AllowHTTP bool
	// Now is the time keys and signatures must be valid at; zero is now.
	Now time.Time
}

// Formats, in Result.Format.
const (
	FormatSimpleSigning = "simple-signing"
	FormatCosign        = "cosign"
)

// Result says which signature verified the image, and with which key.
type Result struct {
	Format  string         // FormatSimpleSigning or FormatCosign
	Source  string         // where the signature was read (URL, tag)
	Verdict *trust.Verdict // the trusted key
	// SignedReference is the docker-reference the payload binds.
	SignedReference string
}

// Verify finds the signatures of the image of req and accepts it when one
// of them, made by a key trusted for req.Name, binds req.ManifestDigest
// and the reference pulled. See the package doc for the formats.
//
// Refusals: ErrNoSignature when none is found; a *RefusedError otherwise,
// which unwraps to each signature's refusal (a trust.*UnknownSignerError,
// a trust.*SignatureError, ErrDigestMismatch, ErrIdentityMismatch, ...).
// A bad signature by a trusted key is returned alone: it refuses the
// image whatever the others say.
func Verify(ctx context.Context, ks *trust.Keystore, req Request, opts Options) (*Result, error) {
	if ks == nil {
		return nil, errors.New("verifying signatures: no keystore given")
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Client == nil {
		opts.Client = http.DefaultClient
	}
	if opts.RegistriesDirs == nil {
		opts.RegistriesDirs = []string{DefaultRegistriesDir}
	}
	pulled, err := parseDockerRef(req.Reference)
	if err != nil {
		return nil, fmt.Errorf("verifying signatures: %w", err)
	}
	// The keys are those trusted for Name, the payload must name
	// Reference: they must be one repository, or a key trusted for one
	// image would vouch for another.
	trustName, err := normalizeName(req.Name)
	if err != nil {
		return nil, fmt.Errorf("verifying signatures of %s: %w", req.Reference, err)
	}
	if trustName != pulled.repo {
		return nil, fmt.Errorf("verifying signatures of %s: the trust name %q is not its repository %q", req.Reference, req.Name, pulled.repo)
	}
	req.Name = trustName
	if _, err := parseDigest(req.ManifestDigest); err != nil {
		return nil, fmt.Errorf("verifying signatures of %s: %w", req.Reference, err)
	}
	v := &verifier{ks: ks, req: req, opts: opts, pulled: pulled, layout: req.Layout, layoutName: req.LayoutPath}
	if v.layout == nil && req.LayoutPath != "" {
		v.layout = os.DirFS(req.LayoutPath)
	}
	var sources []string
	simple, where, err := v.simpleSignatures(ctx)
	if err != nil {
		return nil, fmt.Errorf("verifying signatures of %s: %w", req.Reference, err)
	}
	if where != "" {
		sources = append(sources, where)
	}
	for _, s := range simple {
		if res, done := v.checkSimple(s); done {
			return res, v.fatal
		}
	}
	cosign, where, err := v.cosignSignatures(ctx)
	if err != nil {
		return nil, fmt.Errorf("verifying signatures of %s: %w", req.Reference, err)
	}
	if where != "" {
		sources = append(sources, where)
	}
	for _, s := range cosign {
		if res, done := v.checkCosign(s); done {
			return res, v.fatal
		}
	}
	if len(v.refusals) == 0 {
		return nil, fmt.Errorf("verifying signatures of %s: %w (looked in %s); sign it with skopeo copy --sign-by or cosign sign --key, or pass --insecure-options=image",
			req.Reference, ErrNoSignature, describeSources(sources))
	}
	return nil, &RefusedError{Reference: req.Reference, Refusals: v.refusals}
}

func describeSources(s []string) string {
	if len(s) == 0 {
		return "no lookaside and no registry"
	}
	out := s[0]
	for _, x := range s[1:] {
		out += " and " + x
	}
	return out
}

// verifier holds one Verify call's state.
type verifier struct {
	ks       *trust.Keystore
	req      Request
	opts     Options
	pulled   dockerRef
	refusals []error
	fatal    error

	layout     fs.FS // nil: no layout
	layoutName string
}

// found is one signature as read, with where it came from.
type found struct {
	source string
	data   []byte // simple signing: the signed message
	// cosign: the payload and its signature
	payload, sig []byte
}

// checkSimple verifies one simple signature. done is true when the image
// is accepted (res) or refused outright (v.fatal).
func (v *verifier) checkSimple(s found) (res *Result, done bool) {
	refuse := func(err error) { v.refusals = append(v.refusals, fmt.Errorf("%s: %w", s.source, err)) }
	sig, body, err := trust.ParseSignedMessage(s.data)
	if err != nil {
		refuse(err)
		return nil, false
	}
	h := sig.NewHash()
	h.Write(body)
	verdict, err := v.ks.Verify(v.req.Name, sig, h, v.opts.Now)
	if errors.Is(err, trust.ErrBadSignature) {
		v.fatal = fmt.Errorf("verifying signatures of %s: %s: %w", v.req.Reference, s.source, err)
		return nil, true
	}
	if err != nil {
		refuse(err)
		return nil, false
	}
	p, err := parsePayload(body, simpleSigningType)
	if err == nil {
		err = p.check(v.pulled, v.req.ManifestDigest, false)
	}
	if err != nil {
		refuse(fmt.Errorf("signed by key %s: %w", verdict.Fingerprint, err))
		return nil, false
	}
	return &Result{Format: FormatSimpleSigning, Source: s.source, Verdict: verdict, SignedReference: p.Critical.Identity.DockerReference}, true
}

// checkCosign verifies one cosign signature.
func (v *verifier) checkCosign(s found) (res *Result, done bool) {
	refuse := func(err error) { v.refusals = append(v.refusals, fmt.Errorf("%s: %w", s.source, err)) }
	verdict, err := v.ks.VerifyDigest(v.req.Name, sha256Sum(s.payload), s.sig)
	if err != nil {
		refuse(err)
		return nil, false
	}
	p, err := parsePayload(s.payload, cosignType)
	if err == nil {
		err = p.check(v.pulled, v.req.ManifestDigest, true)
	}
	if err != nil {
		refuse(fmt.Errorf("signed by key %s: %w", verdict.Fingerprint, err))
		return nil, false
	}
	return &Result{Format: FormatCosign, Source: s.source, Verdict: verdict, SignedReference: p.Critical.Identity.DockerReference}, true
}
