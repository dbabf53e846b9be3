package netspec

import "errors"

var (
	// ErrUsage marks a --net value that does not parse or names no valid
	// network.
	ErrUsage = errors.New("invalid --net value")
	// ErrNoNetwork is returned by Load for a pod without network state
	// (host networking, never set up, or torn down).
	ErrNoNetwork = errors.New("pod has no network state")
)
