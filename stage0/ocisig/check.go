package ocisig

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	v1 "github.com/rkt/rkt/api/v1"
	"github.com/rkt/rkt/stage0/trust"
)

// Schemes of the images Check takes, as on rkt's command line.
const (
	DockerScheme     = "docker://"
	OCIArchiveScheme = "oci-archive:"
	OCILayoutScheme  = "oci:"
)

// IsReference reports whether s names an image Check takes.
func IsReference(s string) bool {
	return strings.HasPrefix(s, DockerScheme) || strings.HasPrefix(s, OCIArchiveScheme) || strings.HasPrefix(s, OCILayoutScheme)
}

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
	if rest, ok := strings.CutPrefix(ref, OCIArchiveScheme); ok {
		return checkLayout(ctx, ks, rest, true, opts, verdict)
	}
	if rest, ok := strings.CutPrefix(ref, OCILayoutScheme); ok {
		return checkLayout(ctx, ks, rest, false, opts, verdict)
	}
	s, ok := strings.CutPrefix(ref, DockerScheme)
	if !ok {
		return nil, fmt.Errorf("not a %s, %s or %s reference", DockerScheme, OCIArchiveScheme, OCILayoutScheme)
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

// checkLayout checks the image of an OCI layout (a directory, or an
// archive when archive is set), spelled PATH[:REF] as containers/image
// spells it. REF, or the image's ref name in the layout, must be a full
// docker reference (registry/repository:tag): it gives the trust name and
// the reference the signatures must bind.
func checkLayout(ctx context.Context, ks *trust.Keystore, spec string, archive bool, opts CheckOptions, verdict *v1.SignatureVerdict) (*Result, error) {
	p, ref, _ := strings.Cut(spec, ":")
	var layout fs.FS
	if archive {
		var err error
		if layout, err = readArchive(p); err != nil {
			return nil, err
		}
	} else {
		layout = os.DirFS(p)
	}
	digest, refName, err := LayoutImage(layout, ref)
	if err != nil {
		return nil, fmt.Errorf("finding the image in %s: %w", p, err)
	}
	verdict.ImageID = digest
	if ref == "" {
		ref = refName
	}
	if !strings.Contains(ref, "/") {
		return nil, fmt.Errorf("the image is named %q, not registry/repository:tag, so no trust name follows from it; name it: PATH:REGISTRY/REPOSITORY:TAG", ref)
	}
	named, err := parseDockerRef(ref)
	if err != nil {
		return nil, err
	}
	verdict.Name = named.repo
	verdict.Labels["reference"] = named.String()
	res, err := Verify(ctx, ks, Request{
		Name:           named.repo,
		Reference:      named.String(),
		ManifestDigest: digest,
		LayoutPath:     p,
		Layout:         layout,
	}, opts.Options)
	if err != nil {
		describeRefusal(err, verdict)
		return nil, err
	}
	return res, nil
}
