// Command rkt is the command line of the container runtime: it parses flags,
// calls one library function per command and prints the result.
//
// Invariants: results go to stdout, diagnostics to stderr; every error is
// printed once, as "<command>: <message>", by run; the exit code comes from
// exitCode alone (0 success, 254 any failure, bad usage included, 2 only
// for a missing command, as rkt 1.30). Nothing below main calls os.Exit.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err))
}

// run executes the command line args and prints the error, if any, on
// stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runWith(ctx, &globalFlags{stdin: stdin, stdout: stdout, stderr: stderr}, args)
}

// runWith is run with the streams (and test overrides) already in g.
func runWith(ctx context.Context, g *globalFlags, args []string) error {
	root := newRootCmd(g)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil {
		printError(g.stderr, cmd, err)
	}
	return err
}
