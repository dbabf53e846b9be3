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
// follow an image"). It matches ErrUsage.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrUsage) true.
func (e *UsageError) Is(target error) bool { return target == ErrUsage }

func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}
