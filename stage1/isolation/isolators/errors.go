package isolators

import "errors"

var (
	// ErrUnsafePath: a path to mask or make read-only resolves through a
	// symlink or outside the app's rootfs.
	ErrUnsafePath = errors.New("unsafe path in the app's rootfs")
)
