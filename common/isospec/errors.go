package isospec

import "errors"

var (
	// ErrUnknownCapability: a name that is not a Linux capability.
	ErrUnknownCapability = errors.New("unknown capability")
	// ErrInvalidValue: a flag's value that appc's isolator validation refuses.
	ErrInvalidValue = errors.New("invalid isolator value")
	// ErrUnknownSyscall: a seccomp set names neither a known syscall nor a known group.
	ErrUnknownSyscall = errors.New("unknown syscall")
	// ErrUnknownGroup: a seccomp set names an @group this implementation does not define.
	ErrUnknownGroup = errors.New("unknown syscall group")
	// ErrBadErrno: an errno that is not a known errno name or a number in 1..4095.
	ErrBadErrno = errors.New("invalid errno")
	// ErrBadSeccomp: a seccomp set that cannot be compiled (e.g. a set without a mode).
	ErrBadSeccomp = errors.New("invalid seccomp profile")
)
