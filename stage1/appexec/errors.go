package appexec

import "errors"

var (
	// ErrUnknownUser is returned when an app's user name is not in its
	// image's /etc/passwd.
	ErrUnknownUser = errors.New("unknown user")
	// ErrUnknownGroup is returned when an app's group name is not in its
	// image's /etc/group.
	ErrUnknownGroup = errors.New("unknown group")
	// ErrEscapingPath is returned when a mount target is the rootfs
	// itself or lies outside it.
	ErrEscapingPath = errors.New("path escapes the app rootfs")
)
