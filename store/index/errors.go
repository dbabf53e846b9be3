package index

import "errors"

// ErrNotFound: no row under that key.
var ErrNotFound = errors.New("not in the image index")
