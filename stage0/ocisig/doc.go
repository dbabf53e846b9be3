// Package ocisig verifies the signatures of OCI and Docker registry images
// against the keys that rkt trusts for the image's name, with the same
// prefix rules and refusals as signed ACIs (stage0/trust).
//
// The caller resolves the image to a manifest digest and asks Verify with a
// Request: the trust name (registry/repository, no tag or digest), the
// reference as pulled, the manifest digest, and where the registry is. Two
// formats are accepted; a signature of either kind that verifies is enough.
//
// OpenPGP "simple signing" (containers/image, `skopeo copy --sign-by`): an
// OpenPGP signed message whose literal data is the JSON payload
//
//	{"critical": {"type": "atomic container signature",
//	              "image": {"docker-manifest-digest": "sha256:<hex>"},
//	              "identity": {"docker-reference": "<registry>/<repo>[:tag]"}},
//	 "optional": {...}}
//
// The signatures are read from the lookaside store that the registries.d
// YAML files name for the image (the "lookaside" key, or the older
// "sigstore"; of the "docker" entries that name one, the one whose
// namespace is the longest match of the reference, else "default-docker"),
// at
//
//	<lookaside>/<repository path>@sha256=<hex>/signature-<N>
//
// for N = 1, 2, ... until the first one that does not exist. file:// and
// https:// lookasides are read; http:// only with Options.AllowHTTP.
// The signer must be an OpenPGP key trusted for Name; the payload's digest
// must be ManifestDigest, and its docker-reference must be the reference
// pulled (same repository and tag), or, for a pull by digest, name the same
// repository: containers/image's default "matchRepoDigestOrExact" rule.
//
// cosign signatures made with a key: the registry's tag
// "sha256-<hex>.sig" in Repository (or, in an OCI layout at LayoutPath, the
// manifest with that ref name) is an image whose layers are JSON payloads
// of the same shape (type "cosign container image signature"), each with
// its base64 ASN.1 ECDSA signature over the payload's SHA-256 in the
// "dev.cosignproject.cosign/signature" annotation. The signer must be a PEM
// ECDSA P-256 public key trusted for Name (`rkt trust --prefix P
// cosign.pub`); no transparency log entry is needed or checked. The
// payload's digest must be ManifestDigest and its docker-reference must
// name the repository pulled.
//
// Check serves `rkt image check-signature` for docker://, oci: and
// oci-archive: references: it resolves the manifest digest (one HEAD
// request to the registry, or the layout's index) and calls Verify; an
// archive's small files (index, manifests, payloads) are read into memory
// and its layers skipped.
//
// Invariants:
//   - Name (normalized: Docker Hub is docker.io) must be the repository of
//     Reference: the keys trusted for one repository never vouch for
//     another.
//   - Verify only verifies: it never skips a check. Skipping is the
//     caller's explicit branch (--insecure-options=image).
//   - A signature whose payload binds another digest or another reference
//     is never accepted, even when made by a trusted key.
//   - A bad signature by a trusted key refuses the image, whatever other
//     signatures say, as for ACIs.
//   - Nothing read from a lookaside or a registry is larger than
//     trust.MaxMessageSize, and at most MaxSignatures are read per source.
package ocisig
