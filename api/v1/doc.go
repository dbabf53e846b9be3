// Package v1 holds the public JSON shapes the command line prints with
// --format=json: the image list and the pods (rkt 1.30's api/v1 types,
// field for field), and the trust list and the signature verdict (new).
//
// Invariants: field names and types are a public contract; a field is never
// renamed or retyped, only added, and the shapes rkt 1.30 had are never
// added to either. In the rkt 1.30 shapes, times are Unix seconds (pods) or
// nanoseconds (apps, images), as rkt wrote them; in the new shapes they are
// RFC 3339 strings (UTC when the source time is), absent times are null.
// Image IDs are full (sha512-<64 hex>), fingerprints are lowercase hex.
package v1
