package tree

import "errors"

var (
	// ErrTreeCorrupt: the rendered tree no longer matches its recorded hash.
	ErrTreeCorrupt = errors.New("rendered tree does not match its hash")
	// ErrNotRendered: the tree is absent or was never completed.
	ErrNotRendered = errors.New("tree is not rendered")
)
