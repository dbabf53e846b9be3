package main

import "errors"

var (
	// ErrNotOneApp: the fly flavor runs pods of exactly one app.
	ErrNotOneApp = errors.New("the fly stage1 runs exactly one app")
	// ErrNoExec: the app has no command.
	ErrNoExec = errors.New("no command to run (exec is empty)")
	// ErrNoVolume: a mount names a volume the pod does not have.
	ErrNoVolume = errors.New("no such volume")
	// ErrCommandNotFound: the command is not in the app's PATH.
	ErrCommandNotFound = errors.New("command not found in the app's PATH")
)
