// Package stage1cmd is the scaffolding shared by the stage1 entrypoint
// binaries on the host: one multi-call binary per flavor whose entrypoints
// (/init or /run, /enter, /stop, /gc) are links to it, the exit code of an
// entrypoint that failed itself, finding the host's tools, and reading the
// pid files stage1 writes into the pod directory.
//
// Invariants:
//   - An entrypoint that fails itself prints one line "stage1: <error>" on
//     stderr and exits 254 (rkt's "rkt itself failed"); otherwise the
//     entrypoint decides its exit code (run and enter exec away).
//   - A pid file holds a decimal pid greater than 1; anything else is an
//     error, never a signal to pid 0, -1 or 1.
package stage1cmd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rkt/rkt/common/entrypoint"
	"github.com/rkt/rkt/common/flock"
)

// ExitFailure is the exit code of an entrypoint that failed itself.
const ExitFailure = entrypoint.ExitFailure

// ErrNoPid is returned when a pod's pid file is missing.
var ErrNoPid = errors.New("pod process not found")

// Main runs the entrypoint named by the base name of os.Args[0] (the link
// it was started as) or, when started as binary itself, by the first
// argument, and exits. entrypoints maps names to their functions.
func Main(binary string, entrypoints map[string]func(args []string) error) {
	os.Exit(run(binary, entrypoints, os.Args))
}

func run(binary string, entrypoints map[string]func([]string) error, argv []string) int {
	name, args := filepath.Base(argv[0]), argv[1:]
	if name == binary && len(args) > 0 {
		name, args = args[0], args[1:]
	}
	fn, ok := entrypoints[name]
	if !ok {
		names := make([]string, 0, len(entrypoints))
		for n := range entrypoints {
			names = append(names, n)
		}
		slices.Sort(names)
		fmt.Fprintf(os.Stderr, "stage1: unknown entrypoint %q (want %s)\n", name, strings.Join(names, ", "))
		return ExitFailure
	}
	if err := fn(args); err != nil {
		fmt.Fprintf(os.Stderr, "stage1: %v\n", err)
		return ExitFailure
	}
	return 0
}

// FindTool finds a host tool on PATH, else in the usual system
// directories (stage0 may run with a minimal PATH); notFound is returned
// when there is none, so that its message can say what to install.
func FindTool(name string, notFound error) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/bin", "/bin", "/usr/sbin", "/sbin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", notFound
}

// WaitPidFile is ReadPidFile for the stop entrypoints, run in the pod
// directory: a pod is running from the moment stage0 locks it, before its
// stage1 has written its pid files, so a missing file is waited for while
// the pod still holds its lock, for at most within.
func WaitPidFile(path string, within time.Duration) (int, error) {
	deadline := time.Now().Add(within)
	for {
		pid, err := ReadPidFile(path)
		if !errors.Is(err, ErrNoPid) || time.Now().After(deadline) {
			return pid, err
		}
		if held, herr := flock.Held("."); herr == nil && !held {
			// The pod ended; it may have written the file just before.
			return ReadPidFile(path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ReadPidFile reads a pid written by stage1 (pid, ppid, pgid). A missing
// file wraps ErrNoPid.
func ReadPidFile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("%w: no %s file", ErrNoPid, path)
		}
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("reading %s: invalid pid %q", path, strings.TrimSpace(string(data)))
	}
	return pid, nil
}
