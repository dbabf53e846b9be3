package v1

import "time"

// Key scopes: which configuration directory a trusted key lives in.
const (
	ScopeSystem = "system"
	ScopeLocal  = "local"
)

// TrustedKey is one key of `rkt trust --list --format=json`.
type TrustedKey struct {
	// Prefix is the image name prefix the key is trusted for; empty for a
	// root key.
	Prefix string `json:"prefix"`
	// Root is set for keys trusted for every image (root.d).
	Root bool `json:"root"`
	// Fingerprint is the lowercase hex fingerprint of the primary key.
	Fingerprint string `json:"fingerprint"`
	// UserIDs are the key's user IDs, e.g. "Example <sign@example.com>".
	UserIDs []string `json:"userIDs"`
	// Created is the primary key's creation time.
	Created time.Time `json:"created"`
	// Expires is the primary key's expiry; null when it never expires.
	Expires *time.Time `json:"expires"`
	// Scope is ScopeSystem or ScopeLocal.
	Scope string `json:"scope"`
	// Path is the key file.
	Path string `json:"path"`
	// Kind is "openpgp", or "ecdsa-p256" for a PEM public key that
	// verifies cosign signatures of OCI images (its Fingerprint is the
	// SHA-256 of the DER key; it has no user IDs, creation or expiry).
	Kind string `json:"kind"`
}
