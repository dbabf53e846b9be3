package fetch

import (
	"context"
	"errors"
	"fmt"

	"github.com/rkt/rkt/stage0/ocisig"
	"github.com/rkt/rkt/stage0/trust"
)

// OCISignatures is the OCIVerifier that checks an OCI image's signatures
// (OpenPGP simple signing, cosign) against the keys ks trusts for its
// name, through stage0/ocisig.
//
// An image resolved from a multi-platform index is accepted when a
// signature binds its own manifest digest or the index's: the index names
// the platform manifest by digest, and that manifest was read by that
// digest, so a signature of the index covers it (skopeo and cosign sign
// what a tag points at).
//
// An image from a layout or archive is checked for the docker reference
// it is named by there (PATH:REGISTRY/REPOSITORY:TAG, or its ref name).
func OCISignatures(ks *trust.Keystore, opts ocisig.Options) OCIVerifier {
	return func(ctx context.Context, req OCIVerifyRequest) error {
		r := ocisig.Request{
			Name:           req.Name,
			Reference:      req.Reference,
			ManifestDigest: req.ManifestDigest,
			Repository:     req.Repository,
			RemoteOptions:  req.RemoteOptions,
		}
		if req.Layout != "" {
			name, ref, err := ocisig.TrustName(req.LayoutRef)
			if err != nil {
				return fmt.Errorf("%w: %w: name the image (oci:PATH:REGISTRY/REPOSITORY:TAG or oci-archive:PATH:REGISTRY/REPOSITORY:TAG; a docker-archive carries no signature), or pass --insecure-options=image", ErrOCIUnsigned, err)
			}
			r.Name, r.Reference, r.LayoutPath = name, ref, req.Layout
		}
		_, err := ocisig.Verify(ctx, ks, r, opts)
		if err == nil || req.IndexDigest == "" || req.IndexDigest == req.ManifestDigest {
			return err
		}
		r.ManifestDigest = req.IndexDigest
		if _, ierr := ocisig.Verify(ctx, ks, r, opts); ierr != nil {
			return errors.Join(err, fmt.Errorf("index %s: %w", req.IndexDigest, ierr))
		}
		return nil
	}
}
