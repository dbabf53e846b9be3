package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage1/isolation/caps"
	"github.com/rkt/rkt/stage1/isolation/cgroups"
)

// Starting a process without the exec stub.
//
// The exec stub (execstub.go) costs a whole start of the supervisor's
// binary before every app: on a machine where page faults are slow, that
// is the largest part of the supervisor's share of a pod's start. Yet
// nearly everything the stub applies is per-thread state in Linux: the
// root and working directory (once the thread has its own fs_struct),
// membership of cgroup v1 hierarchies (the tasks file), the cgroup
// namespace, ids, capability sets, the bounding set, no_new_privs and a
// seccomp filter installed without TSYNC. So the supervisor applies the
// confinement to a fresh thread of its own (caps.ConfineThread) and forks
// the process from that thread, which hands all of it to the child.
//
// The thread is locked to its goroutine and never unlocked, so the Go
// runtime ends it when the goroutine returns, and never clones a new
// thread from it. Two things are per process and handled around the fork,
// under the reaper's lock: oom_score_adj, and the cgroup of the unified
// (v2) hierarchy, where a process's threads all live in one cgroup. The
// supervisor takes the app's oom_score_adj and moves into the app's v2
// cgroup for the instant of the fork, then takes its own back.
//
// The stub also stays for a seccomp filter that denies a syscall the
// runtime and ForkExec may make on the confined thread
// (caps.RuntimeSyscalls): nothing ever runs with a weaker filter. And for
// the app of an interactive pod, whose child must take the terminal from
// the supervisor's session before it loses CAP_SYS_ADMIN.

// spawnable reports whether c can be started by spawn rather than the
// stub: its filter allows what the runtime needs on the confined thread,
// its cgroup keys are valid, and the supervisor knows its own cgroup in
// each v2 hierarchy the app has a cgroup in (it always does in a pod: the
// _stage1 leaf or below). It returns the app's hierarchies sorted into
// v1 ones, which the thread joins, and v2 ones, which the supervisor
// visits.
func (s *Supervisor) spawnable(c *confinement) (h appHierarchies, ok bool) {
	if !c.filterAllowsRuntime || podlayout.ValidAppName(c.App) != nil {
		return h, false
	}
	for _, k := range c.CgroupKeys {
		if !validKey(k) {
			return h, false
		}
		if isV1(s.Root, k, c.App) {
			h.v1 = append(h.v1, k)
			continue
		}
		if _, err := s.homeCgroup(k); err != nil {
			return h, false
		}
		h.v2 = append(h.v2, k)
	}
	return h, true
}

// appHierarchies are an app's cgroup hierarchies by version.
type appHierarchies struct {
	v1, v2 []string
}

func validKey(k string) bool {
	return k != "" && k != "." && k != ".." && !strings.Contains(k, "/")
}

// isV1 reports whether the app's cgroup in hierarchy key is a v1 one,
// which a single thread can join.
func isV1(root, key, app string) bool {
	_, err := os.Stat(appCgroupFile(root, key, app, "tasks"))
	return err == nil
}

func appCgroupFile(root, key, app, file string) string {
	return filepath.Join(root, podlayout.InPodCgroupDir, key, app, file)
}

// spawn starts argv confined by c, in its hierarchies h (from
// spawnable), and returns its pid; files and sys are the child's
// descriptors and process attributes, as for ForkExec. The caller holds
// the reaper's lock. An error from the confinement or the execve carries
// the code the app's exit is recorded with (execCode).
func (s *Supervisor) spawn(c *confinement, h appHierarchies, files []uintptr, sys *syscall.SysProcAttr) (int, error) {
	for _, k := range h.v2 {
		back, err := s.visitCgroup(k, c.App)
		if err != nil {
			return 0, err
		}
		defer back()
	}
	if c.OOMScoreAdj != nil {
		restore, err := s.borrowOOMScoreAdj(*c.OOMScoreAdj)
		if err != nil {
			return 0, err
		}
		defer restore()
	}
	type result struct {
		pid int
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread takes on the app's confinement
		// and must end with this goroutine.
		pid, err := spawnOnThread(s.Root, c, h.v1, files, sys)
		done <- result{pid, err}
	}()
	r := <-done
	return r.pid, r.err
}

// spawnOnThread joins the app's v1 cgroups and makes its cgroup namespace
// on the calling (locked) thread, confines it and forks from it.
func spawnOnThread(root string, c *confinement, v1 []string, files []uintptr, sys *syscall.SysProcAttr) (int, error) {
	tid := []byte(strconv.Itoa(unix.Gettid()))
	for _, k := range v1 {
		if err := os.WriteFile(appCgroupFile(root, k, c.App, "tasks"), tid, 0); err != nil {
			return 0, fmt.Errorf("joining the app's cgroup in %s: %w", k, err)
		}
	}
	if len(c.CgroupKeys) > 0 {
		// Rooted at the app's cgroups, which the thread is in by now,
		// as the stub's is.
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return 0, fmt.Errorf("making the app's cgroup namespace: %w", err)
		}
	}
	path, err := caps.ConfineThread(c.ExecSpec)
	if err != nil {
		return 0, err
	}
	argv := c.Args
	if len(argv) == 0 {
		argv = []string{c.Path}
	}
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: c.Env, Files: files, Sys: sys})
	if err != nil {
		return 0, fmt.Errorf("executing %s: %w", path, err)
	}
	return pid, nil
}

// borrowOOMScoreAdj gives the supervisor the oom_score_adj v until restore
// is called. Raising it and lowering it back to where it was needs no
// privilege; a value below the supervisor's needs CAP_SYS_RESOURCE, as it
// would in the stub.
func (s *Supervisor) borrowOOMScoreAdj(v int) (restore func(), err error) {
	data, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return nil, fmt.Errorf("setting oom_score_adj: %w", err)
	}
	old, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("setting oom_score_adj: reading the supervisor's: %w", err)
	}
	if old == v {
		return func() {}, nil
	}
	if err := cgroups.SetOOMScoreAdj(0, v); err != nil {
		return nil, err
	}
	return func() {
		if err := cgroups.SetOOMScoreAdj(0, old); err != nil {
			s.Log.Error("taking back the supervisor's oom_score_adj", "value", old, "err", err)
		}
	}, nil
}

// visitCgroup moves the supervisor into the app's cgroup of v2 hierarchy
// key; back moves it home again.
func (s *Supervisor) visitCgroup(key, app string) (back func(), err error) {
	home, err := s.homeCgroup(key)
	if err != nil {
		return nil, err
	}
	// "0" is the writing process, whatever its pid namespace.
	if err := os.WriteFile(appCgroupFile(s.Root, key, app, "cgroup.procs"), []byte("0"), 0); err != nil {
		return nil, fmt.Errorf("joining the app's cgroup in %s: %w", key, err)
	}
	return func() {
		if err := os.WriteFile(filepath.Join(home, "cgroup.procs"), []byte("0"), 0); err != nil {
			s.Log.Error("moving the supervisor back to its cgroup", "hierarchy", key, "err", err)
		}
	}, nil
}

// homeCgroup finds, once per hierarchy, the supervisor's own cgroup
// directory under /rkt/cgroup/<key>/_stage1 (the leaf nspawn and the
// supervisor run in, or one nspawn made below it).
func (s *Supervisor) homeCgroup(key string) (string, error) {
	s.homesMu.Lock()
	defer s.homesMu.Unlock()
	if h, ok := s.homes[key]; ok {
		return h.dir, h.err
	}
	dir, err := findOwnCgroup(filepath.Join(s.Root, podlayout.InPodCgroupDir, key, cgroups.Stage1Leaf))
	if err != nil {
		err = fmt.Errorf("finding the supervisor's cgroup in %s: %w", key, err)
	}
	if s.homes == nil {
		s.homes = map[string]homeCgroup{}
	}
	s.homes[key] = homeCgroup{dir, err}
	return dir, err
}

type homeCgroup struct {
	dir string
	err error
}

// findOwnCgroup returns the directory under top whose cgroup.procs lists
// the calling process.
func findOwnCgroup(top string) (string, error) {
	self := strconv.Itoa(os.Getpid())
	found := ""
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		data, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			return nil
		}
		if slices.Contains(strings.Fields(string(data)), self) {
			found = p
			return fs.SkipAll
		}
		return nil
	})
	if err == nil && found == "" {
		err = errors.New("not found")
	}
	return found, err
}
