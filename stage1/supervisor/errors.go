package main

import (
	"errors"
	"fmt"
)

var (
	// ErrNoExec is returned for an app without an exec command.
	ErrNoExec = errors.New("app has no exec command")
	// ErrUnknownVolume is returned when an app mounts a volume the pod
	// manifest does not declare.
	ErrUnknownVolume = errors.New("unknown volume")
	// ErrStarterGone is returned when the process that started the pod
	// (`rkt run`, become systemd-nspawn) died before the supervisor began.
	ErrStarterGone = errors.New("the rkt process that started the pod is gone")
	// errStopping is returned by a runner asked to start a process after
	// the pod began stopping.
	errStopping = errors.New("pod is stopping")
)

// startError is a failure to start an app's process; Code is the exit code
// recorded for the app (126 not executable, 127 not found, 254 otherwise).
type startError struct {
	App  string
	What string
	Code int
	Err  error
}

func (e *startError) Error() string {
	return fmt.Sprintf("app %s: %s: %v", e.App, e.What, e.Err)
}

func (e *startError) Unwrap() error { return e.Err }
