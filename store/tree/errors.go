package tree

import "errors"

var (
	// ErrTreeCorrupt: the rendered tree no longer matches its recorded hash.
	ErrTreeCorrupt = errors.New("rendered tree does not match its hash")
	// ErrNotRendered: the tree is absent or was never completed.
	ErrNotRendered = errors.New("tree is not rendered")
)

// ErrUnknownHash: the tree's recorded hash is in a format this version
// does not know (written by another version); the tree is not known to be
// corrupt, but it cannot be verified until it is rendered again.
var ErrUnknownHash = errors.New("tree hash is in an unknown format")
