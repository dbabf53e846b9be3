package index

import "errors"

// ErrNotFound: no row under that key.
var ErrNotFound = errors.New("not in the image index")

// ErrNoDatabase is a read of a read-only Index whose database does not
// exist: the store has never been written.
var ErrNoDatabase = errors.New("no image index")
