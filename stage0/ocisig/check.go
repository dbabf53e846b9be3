package ocisig

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	v1 "github.com/rkt/rkt/api/v1"
	"github.com/rkt/rkt/stage0/trust"
)

// DockerScheme prefixes a registry reference on rkt's command line.
const DockerScheme = "docker://"

// CheckOptions configure Check.
type CheckOptions struct {
	Options
	// Transport reaches the registry; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Keychain gives registry credentials; nil means the user's
	// ~/.docker/config.json (authn.DefaultKeychain).
	Keychain authn.Keychain
}

// Check resolves ref ("docker://[registry/]repo[:tag|@digest]") to its
// manifest digest with one HEAD request (no layer is read, nothing is
// written), verifies its signatures as Verify does, and returns the verdict
// for `rkt image check-signature`: Name is the trust name, ImageID the
// manifest digest. The verdict is returned on refusal too, with Error set.
func Check(ctx context.Context, ks *trust.Keystore, ref string, opts CheckOptions) (*v1.SignatureVerdict, error) {
	verdict := &v1.SignatureVerdict{Labels: map[string]string{}}
	res, err := check(ctx, ks, ref, opts, verdict)
	if err != nil {
		err = fmt.Errorf("checking %q: %w", ref, err)
		verdict.Error = err.Error()
		return verdict, err
	}
	verdict.Verified = true
	verdict.Signer = v1.Signer{UserID: res.Verdict.UserID, Fingerprint: res.Verdict.Fingerprint, KeyID: res.Verdict.SignerKeyID}
	verdict.TrustedPrefix = res.Verdict.Prefix
	verdict.Root = res.Verdict.Prefix == ""
	verdict.SignatureFormat = res.Format
	return verdict, nil
}

func check(ctx context.Context, ks *trust.Keystore, ref string, opts CheckOptions, verdict *v1.SignatureVerdict) (*Result, error) {
	s, ok := strings.CutPrefix(ref, DockerScheme)
	if !ok {
		return nil, fmt.Errorf("not a %s reference", DockerScheme)
	}
	var nameOpts []name.Option
	if opts.AllowHTTP {
		nameOpts = append(nameOpts, name.Insecure)
	}
	r, err := name.ParseReference(s, nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("parsing reference: %w", err)
	}
	pulled, err := parseDockerRef(s)
	if err != nil {
		return nil, err
	}
	if pulled.tag == "" && pulled.digest == "" {
		pulled.tag = "latest" // what a pull of the bare name fetches
	}
	verdict.Name = pulled.repo
	verdict.Labels["reference"] = pulled.String()
	tr := opts.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	kc := opts.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(tr), remote.WithAuthFromKeychain(kc)}
	desc, err := remote.Head(r, ropts...)
	if err != nil {
		return nil, fmt.Errorf("resolving the manifest digest: %w", err)
	}
	verdict.ImageID = desc.Digest.String()
	if pulled.digest != "" && pulled.digest != verdict.ImageID {
		return nil, fmt.Errorf("the registry serves manifest %s for digest %s", verdict.ImageID, pulled.digest)
	}
	res, err := Verify(ctx, ks, Request{
		Name:           pulled.repo,
		Reference:      pulled.String(),
		ManifestDigest: verdict.ImageID,
		Repository:     r.Context(),
		RemoteOptions:  ropts,
	}, opts.Options)
	if err != nil {
		describeRefusal(err, verdict)
		return nil, err
	}
	return res, nil
}

// describeRefusal fills the verdict's signer from a refusal, when one
// names a key.
func describeRefusal(err error, verdict *v1.SignatureVerdict) {
	var unknown *trust.UnknownSignerError
	var bad *trust.SignatureError
	switch {
	case errors.As(err, &bad):
		verdict.Signer = v1.Signer{Fingerprint: bad.Fingerprint}
		verdict.TrustedPrefix = bad.Prefix
		verdict.Root = bad.Prefix == ""
	case errors.As(err, &unknown):
		verdict.Signer = v1.Signer{Fingerprint: unknown.Fingerprint, KeyID: unknown.KeyID}
	}
}
