package isolators

import "errors"

var (
	// ErrInvalidValue: a flag's value that appc's isolator validation refuses.
	ErrInvalidValue = errors.New("invalid isolator value")
	// ErrUnsafePath: a path to mask or make read-only resolves through a
	// symlink or outside the app's rootfs.
	ErrUnsafePath = errors.New("unsafe path in the app's rootfs")
)
