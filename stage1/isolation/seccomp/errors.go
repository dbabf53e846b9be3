package seccomp

import (
	"errors"

	"github.com/rkt/rkt/common/isospec"
)

var (
	// ErrUnsupportedArch: the compiler has no syscall table for the architecture.
	ErrUnsupportedArch = errors.New("unsupported architecture for seccomp filters")
	// ErrUnknownSyscall: a set names neither a known syscall nor a known group.
	ErrUnknownSyscall = isospec.ErrUnknownSyscall
	// ErrUnknownGroup: a set names an @group this implementation does not define.
	ErrUnknownGroup = isospec.ErrUnknownGroup
	// ErrBadErrno: an errno that is not a known errno name or a number in 1..4095.
	ErrBadErrno = isospec.ErrBadErrno
	// ErrBadProfile: a profile that cannot be compiled (e.g. a set without a mode).
	ErrBadProfile = isospec.ErrBadSeccomp
	// ErrCorruptCache: a cached filter file that fails its checksum or format.
	ErrCorruptCache = errors.New("corrupt cached seccomp filter")
)
