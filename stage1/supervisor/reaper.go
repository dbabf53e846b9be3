package main

import (
	"errors"
	"sync"
	"syscall"
)

// reaper is the only caller of wait(2) in the supervisor. As PID 1 the
// supervisor inherits every orphan of the pod; reaping with wait4(-1)
// collects them all, and the exits of processes started through start are
// handed to whoever started them.
//
// Invariant: a pid is registered under mu in the same critical section as
// the fork that creates it, and the reaper looks pids up under mu, so an
// exit is never lost even when the child dies before ForkExec returns.
type reaper struct {
	mu      sync.Mutex
	waiters map[int]chan syscall.WaitStatus
}

func newReaper() *reaper {
	return &reaper{waiters: map[int]chan syscall.WaitStatus{}}
}

// start runs fork, which creates one child and returns its pid, and
// returns that pid and a channel that receives its wait status once.
func (r *reaper) start(fork func() (int, error)) (int, <-chan syscall.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := fork()
	if err != nil {
		return 0, nil, err
	}
	ch := make(chan syscall.WaitStatus, 1)
	r.waiters[pid] = ch
	return pid, ch, nil
}

// reapAll collects every exited child without blocking.
func (r *reaper) reapAll() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		r.mu.Lock()
		ch := r.waiters[pid]
		delete(r.waiters, pid)
		r.mu.Unlock()
		if ch != nil {
			ch <- ws
		}
	}
}

// exitCode turns a wait status into the code rkt records: the exit status,
// or 128 + the signal for a process killed by a signal.
func exitCode(ws syscall.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return 255
}
