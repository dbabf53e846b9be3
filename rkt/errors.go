package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rkt/rkt/common/entrypoint"
)

// Exit codes, as rkt 1.30 gave them: 254 for every failure, bad usage
// included (a flag it cannot parse, a wrong number of arguments,
// conflicting flags), and 2 only for `rkt` run without a command.
const (
	exitOK             = 0
	exitMissingCommand = 2
	exitFailed         = entrypoint.ExitFailure
)

// errMissingCommand is `rkt` without a command: rkt 1.30 said "missing
// command", showed the help and exited 2.
var errMissingCommand = errors.New("missing command")

// usageError marks an error in the command line itself: an unknown command
// or flag, a wrong number of arguments, an unparsable flag value.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, a ...any) error {
	return &usageError{fmt.Errorf(format, a...)}
}

// exitCode maps an error returned by a command to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errMissingCommand) {
		return exitMissingCommand
	}
	return exitFailed
}

// usageArgs wraps a cobra argument check so that its failures are usage
// errors.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &usageError{err}
		}
		return nil
	}
}

// commandName is the command path without the program name, e.g.
// "image list"; "rkt" for the root command.
func commandName(cmd *cobra.Command) string {
	if cmd == nil || !cmd.HasParent() {
		return "rkt"
	}
	path := cmd.CommandPath()
	return path[strings.IndexByte(path, ' ')+1:]
}

// printError prints err as rkt does: "<command>: <message>", and for usage
// errors where to find the usage.
func printError(w io.Writer, cmd *cobra.Command, err error) {
	name := commandName(cmd)
	fmt.Fprintf(w, "%s: %v\n", name, err)
	var u *usageError
	if errors.As(err, &u) && cmd != nil {
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
}
