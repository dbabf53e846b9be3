// Package v1 holds the public JSON shapes the command line prints with
// --format=json: the image list, the trust list and the signature verdict.
//
// Invariants: field names and types are a public contract; a field is never
// renamed or retyped, only added. Times are RFC 3339 strings (UTC when the
// source time is), absent times are null, image IDs are full
// (sha512-<64 hex>), fingerprints are lowercase hex.
package v1
