package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/podlayout"
)

// openLifeline makes the pod's lifeline FIFO (podlayout.InPodLifeline)
// and opens it for writing, not close-on-exec, so that the descriptor
// passes to systemd-nspawn with the exec and lives exactly as long as the
// process `rkt run` began as. nspawn closes every descriptor it was not
// told about before it execs the pod's PID 1, so no process of the pod
// holds it: the supervisor, reading the FIFO, sees end of file once that
// process is gone, whatever killed it, and stops the pod.
//
// The FIFO is opened read-write, which never blocks (a write-only open
// would wait for a reader); the supervisor opens it after this, so that
// when it finds no writer, the process that started it is gone.
func openLifeline(pod string) (int, error) {
	p := podlayout.LifelinePath(pod)
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return -1, fmt.Errorf("replacing the pod's lifeline %s: %w", p, err)
	}
	// Readable by everyone: with --private-users the supervisor is not
	// the host's root. Writable by root only.
	if err := unix.Mkfifo(p, 0o644); err != nil {
		return -1, fmt.Errorf("creating the pod's lifeline %s: %w", p, err)
	}
	if err := unix.Chmod(p, 0o644); err != nil {
		return -1, fmt.Errorf("creating the pod's lifeline %s: %w", p, err)
	}
	fd, err := unix.Open(p, unix.O_RDWR|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, fmt.Errorf("opening the pod's lifeline %s: %w", p, err)
	}
	return fd, nil
}
