package rmguard

import "errors"

var (
	// ErrMountPoint is a directory that is, or contains, a mount point.
	ErrMountPoint = errors.New("is or contains a mount point")
	// ErrProtected is a system directory, or one that is, contains or
	// lies inside a directory rkt keeps its state in.
	ErrProtected = errors.New("is a protected directory")
)
