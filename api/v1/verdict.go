package v1

// SignatureVerdict is the result of checking one image and its detached
// signature without a store (`rkt image verify-signature --format=json`, CI).
// Verified is true only when the signature is good, made by a key trusted
// for the image's name, and the manifest's name and labels are the ones
// asked for; Error then is empty. Otherwise Error says why, and the other
// fields hold whatever was learnt before the refusal.
type SignatureVerdict struct {
	// Verified reports whether every check passed.
	Verified bool `json:"verified"`
	// Name is the image name from the manifest; for an OCI registry image,
	// the registry/repository its keys are trusted for.
	Name string `json:"name"`
	// Labels are the manifest's labels (version, os, arch, ...).
	Labels map[string]string `json:"labels"`
	// ImageID is the full image ID (sha512-<64 hex> of the uncompressed
	// tar); for an OCI registry image, its manifest digest (sha256:<hex>).
	ImageID string `json:"imageID"`
	// Signer is the key that made the signature, when it is known.
	Signer Signer `json:"signer"`
	// TrustedPrefix is the prefix the signer's key is trusted for; empty
	// with Root for a key from root.d.
	TrustedPrefix string `json:"trustedPrefix"`
	// Root reports that the signer's key is trusted for every name.
	Root bool `json:"root"`
	// SignatureFormat is how an OCI registry image was signed:
	// "simple-signing" (OpenPGP, containers/image) or "cosign"; empty for
	// ACIs.
	SignatureFormat string `json:"signatureFormat,omitempty"`
	// Error is the refusal, empty when Verified.
	Error string `json:"error,omitempty"`
}

// Signer identifies the key behind a signature.
type Signer struct {
	// UserID is the key's identity used for the signature ("Name <email>").
	UserID string `json:"userID"`
	// Fingerprint is the lowercase hex fingerprint of the primary key.
	Fingerprint string `json:"fingerprint"`
	// KeyID is the lowercase hex ID of the (sub)key that signed.
	KeyID string `json:"keyID"`
}
