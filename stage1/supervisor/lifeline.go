package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/podlayout"
)

// watchLifeline opens the pod's lifeline FIFO (podlayout.InPodLifeline)
// for reading and returns a channel closed once no process holds it open
// for writing any more: the nspawn /init opened it for writing before it
// became systemd-nspawn, and nspawn does not pass it to the pod, so the
// channel is closed when the process `rkt run` began as is gone, however
// it died (SIGKILL included). A closed channel at once means it died
// before the supervisor started.
//
// Poll and epoll do not report the hang-up of a FIFO's last writer to a
// reader that opened it after that writer, so one goroutine sits in a
// blocking read(2), which returns 0 then. Without the FIFO (a supervisor
// run outside the nspawn stage1, as in tests) the channel is nil: never
// closed.
func watchLifeline(root string) (<-chan struct{}, error) {
	p := filepath.Join(root, podlayout.InPodLifeline)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening the pod's lifeline %s: %w", p, err)
	}
	gone := make(chan struct{})
	// A non-blocking read returns 0 at once when no writer is left, and
	// EAGAIN while one is.
	var buf [64]byte
	for {
		n, err := unix.Read(fd, buf[:])
		if err == unix.EINTR || n > 0 {
			continue
		}
		if n == 0 && err == nil {
			unix.Close(fd)
			close(gone)
			return gone, nil
		}
		if err == unix.EAGAIN {
			break
		}
		unix.Close(fd)
		return nil, fmt.Errorf("reading the pod's lifeline %s: %w", p, err)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("reading the pod's lifeline %s: %w", p, err)
	}
	go func() {
		defer close(gone)
		defer unix.Close(fd)
		for {
			n, err := unix.Read(fd, buf[:])
			if err == unix.EINTR || (err == nil && n > 0) {
				continue
			}
			// End of file, or an error that leaves nothing to watch:
			// either way the pod cannot know its starter is alive.
			if err != nil {
				fmt.Fprintf(os.Stderr, "supervisor: reading the pod's lifeline: %v\n", err)
			}
			return
		}
	}()
	return gone, nil
}
