package main

import "errors"

var (
	// ErrNoNspawn: systemd-nspawn is not installed on the host.
	ErrNoNspawn = errors.New("systemd-nspawn not found on PATH or in /usr/bin (install systemd-container)")
	// ErrBadLockFD: RKT_LOCK_FD does not name an open descriptor.
	ErrBadLockFD = errors.New("invalid lock descriptor")
	// ErrIPCParent: --ipc=parent asks for the host's IPC namespace, which
	// systemd-nspawn never shares.
	ErrIPCParent = errors.New("--ipc=parent is not supported by the nspawn stage1: systemd-nspawn always gives a pod an IPC namespace of its own (use --ipc=private, or the fly stage1, which shares the host's)")
	// ErrNotConfined: enter found no trustworthy record of how the app is
	// confined (it has not started yet), so it runs nothing.
	ErrNotConfined = errors.New("no record of how the app is confined (has it started?)")
)
