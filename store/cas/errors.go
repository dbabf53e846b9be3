package cas

import "errors"

var (
	// ErrNotFound: no blob or manifest under that key.
	ErrNotFound = errors.New("not in the store")
	// ErrInvalidKey: the key is not "sha512-" and 64 lowercase hex digits.
	ErrInvalidKey = errors.New("invalid image key (want sha512- and 64 hex digits)")
)
