package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage1/stage1cmd"
)

// runStop stops the pod whose directory is the working directory. Without
// --force it sends SIGTERM to the nspawn process (the ppid file), which
// forwards it to the supervisor as its --kill-signal; the supervisor then
// stops the apps gracefully. With --force it sends SIGKILL to the pod's
// whole process tree, the pod's PID 1 first (which takes the rest of its
// PID namespace with it), then nspawn.
func runStop(args []string) error {
	sa, err := stage1cmd.ParseStop(args)
	if err != nil {
		return err
	}
	ppid, err := stage1cmd.WaitPidFile(podlayout.PpidFile, stopRetryFor)
	if err != nil {
		return fmt.Errorf("stopping pod %s: %w", sa.UUID, err)
	}
	if !sa.Force {
		if err := termUntilReady(ppid); err != nil {
			return fmt.Errorf("stopping pod %s: signalling pid %d: %w", sa.UUID, ppid, err)
		}
		return nil
	}
	if err := killTree(ppid); err != nil {
		return fmt.Errorf("stopping pod %s: %w", sa.UUID, err)
	}
	return nil
}

// termUntilReady sends SIGTERM to nspawn. A signal that reaches the pod
// before its supervisor has installed its handlers is dropped by the kernel
// (PID 1 of a namespace ignores signals it does not handle), so while the
// supervisor has not reported ready the signal is repeated, for a bounded
// time; once it is ready its handler is in place and one signal is enough.
func termUntilReady(ppid int) error {
	deadline := time.Now().Add(stopRetryFor)
	for {
		if err := unix.Kill(ppid, unix.SIGTERM); err != nil {
			if errors.Is(err, unix.ESRCH) {
				return nil
			}
			return err
		}
		if _, err := os.Lstat(podlayout.SupervisorStatusPath(".")); err == nil || time.Now().After(deadline) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopRetryFor bounds how long termUntilReady repeats its signal.
const stopRetryFor = 5 * time.Second

// killTree sends SIGKILL to root's descendants, parents before children,
// then to root. The tree is read once from /proc; a pod's PID 1 dying
// kills its whole PID namespace, which covers processes forked after the
// read.
func killTree(root int) error {
	children, err := childrenMap()
	if err != nil {
		return err
	}
	var order []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			order = append(order, c)
			queue = append(queue, c)
		}
	}
	for _, p := range order {
		if err := unix.Kill(p, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("killing pid %d: %w", p, err)
		}
	}
	if err := unix.Kill(root, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("killing pid %d: %w", root, err)
	}
	return nil
}

// childrenMap reads every process's parent from /proc/<pid>/stat.
func childrenMap() (map[int][]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	m := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, ok := parentOf(pid)
		if ok {
			m[ppid] = append(m[ppid], pid)
		}
	}
	return m, nil
}

func parentOf(pid int) (int, bool) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}
