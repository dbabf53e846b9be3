package podspec

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/rkt/rkt/stage0/runargs"
)

// ErrUsage is matched (errors.Is) by every error that reading a command
// line and Manifest return for a bad command line: the CLI exits with
// status 254 on it. It is the grammar's (stage0/runargs).
var ErrUsage = runargs.ErrUsage

// ErrHelp is returned when the argument vector asks for help (-h, --help):
// the CLI prints the command's usage and exits 0.
var ErrHelp = pflag.ErrHelp

// UsageError is a bad command line, said in rkt's words ("--exec must
// follow an image"). It matches ErrUsage, and Err when set (a parser's
// error, such as the network package's ErrUsage, that the message quotes).
type UsageError = runargs.UsageError

var usagef = runargs.Usagef

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
