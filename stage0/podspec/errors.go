package podspec

import (
	"errors"
	"fmt"
)

// ErrUsage is matched (errors.Is) by every error that Parse and Manifest
// return for a bad command line: the CLI exits with status 2 on it.
var ErrUsage = errors.New("invalid usage")

// ErrHelp is returned by Parse when the argument vector asks for help
// (-h, --help): the CLI prints the command's usage and exits 0.
var ErrHelp = errors.New("help requested")

// UsageError is a bad command line, said in rkt's words ("--exec must
// follow an image"). It matches ErrUsage, and Err when set (a parser's
// error, such as the network package's ErrUsage, that the message quotes).
type UsageError struct {
	Msg string
	Err error
}

func (e *UsageError) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrUsage) true.
func (e *UsageError) Is(target error) bool { return target == ErrUsage }

// Unwrap returns the parser's error the message quotes, if any.
func (e *UsageError) Unwrap() error { return e.Err }

func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// usageWrap is usagef keeping err in the chain: the message is
// "<prefix>: <err>".
func usageWrap(err error, format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...) + ": " + err.Error(), Err: err}
}

// ErrInvalidVolume is a volume whose mode, uid or gid cannot be applied.
var ErrInvalidVolume = errors.New("invalid volume")

// ErrInvalidEnv is an environment value that is not UTF-8 or holds a NUL
// byte: the pod's manifest is JSON (UTF-8 only, invalid bytes would be
// replaced silently) and execve cannot pass a NUL.
var ErrInvalidEnv = errors.New("invalid environment value")
