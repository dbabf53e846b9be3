package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage1/appexec"
	"github.com/rkt/rkt/stage1/isolation/caps"
	"github.com/rkt/rkt/stage1/isolation/cgroups"
)

// The exec stub: every process of an app is started as
//
//	supervisor --fork/exec--> /proc/self/exe --exec-app --execve--> app
//	            fd 0-2: the app's stdio
//	            fd 3:   memfd holding the confinement (JSON)
//	            fd 4:   status pipe, close-on-exec in the stub
//
// The stub joins the app's cgroups and makes a cgroup namespace rooted
// there (the app sees its cgroup as "/"), sets its oom_score_adj and runs
// caps.PrepareAndExec (chroot, bounding set, ids, capabilities,
// no_new_privs, seccomp, execve). The supervisor reads the status pipe to
// its end: nothing means the execve succeeded (the pipe closed with it);
// "<code> <message>" means the app could not be started, and the stub
// exits with code (126 not executable, 127 not found, 254 otherwise).
const (
	execAppFlag  = "--exec-app"
	stubSpecFD   = 3
	stubStatusFD = 4
)

// selfExe is the supervisor's own binary, re-executed as the stub.
const selfExe = "/proc/self/exe"

// execApp is the stub's whole life; it returns only on failure.
func execApp() int {
	syscall.CloseOnExec(stubStatusFD)
	statusFD := stubStatusFD
	var status *os.File // made once the fds are in place
	fail := func(code int, err error) int {
		if status == nil {
			status = os.NewFile(uintptr(statusFD), "status")
		}
		fmt.Fprintf(status, "%d %v", code, err)
		return code
	}
	spec := os.NewFile(stubSpecFD, "spec")
	data, err := io.ReadAll(spec)
	spec.Close()
	if err != nil {
		return fail(exitFailed, fmt.Errorf("reading the exec spec: %w", err))
	}
	var c confinement
	if err := json.Unmarshal(data, &c); err != nil {
		return fail(exitFailed, fmt.Errorf("reading the exec spec: %w", err))
	}
	if c.ListenFDs > 0 {
		if statusFD, err = moveListenFDs(c.ListenFDs); err != nil {
			return fail(exitFailed, err)
		}
		c.Env = append(c.Env, "LISTEN_FDS="+strconv.Itoa(c.ListenFDs), "LISTEN_PID="+strconv.Itoa(os.Getpid()),
			"LISTEN_FDNAMES="+appexec.ListenFDNames(c.App, c.ListenFDs))
	}
	if err := joinCgroups("/", c.App, c.CgroupKeys); err != nil {
		return fail(exitFailed, err)
	}
	if len(c.CgroupKeys) > 0 {
		// A cgroup namespace rooted at the app's cgroup, on the thread
		// that will exec (PrepareAndExec keeps this one).
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fail(exitFailed, fmt.Errorf("making the app's cgroup namespace: %w", err))
		}
	}
	if c.OOMScoreAdj != nil {
		if err := cgroups.SetOOMScoreAdj(0, *c.OOMScoreAdj); err != nil {
			return fail(exitFailed, err)
		}
	}
	// The stub's Go runtime raised its soft limit again, and the raw
	// execve below would hand that to the app.
	if err := setAppNofile(); err != nil {
		return fail(exitFailed, err)
	}
	err = caps.PrepareAndExec(c.ExecSpec)
	return fail(execCode(err), err)
}

// moveListenFDs moves the n sockets the stub got at fd 5.. to fd 3..,
// where sd_listen_fds(3) finds them, and the status pipe (fd 4) above
// them; it returns the status pipe's new fd. The spec's fd 3 is closed
// by now.
func moveListenFDs(n int) (int, error) {
	first := stubStatusFD + 1
	status, err := unix.FcntlInt(stubStatusFD, unix.F_DUPFD_CLOEXEC, first+n)
	if err != nil {
		return stubStatusFD, fmt.Errorf("passing the app its sockets: %w", err)
	}
	for i := range n {
		// Ascending: fd 3+i is free or a socket already moved.
		if err := unix.Dup3(first+i, stubSpecFD+i, 0); err != nil {
			return status, fmt.Errorf("passing the app its sockets: %w", err)
		}
	}
	for fd := max(stubSpecFD+n, first); fd < first+n; fd++ {
		unix.Close(fd)
	}
	if stubSpecFD+n <= stubStatusFD {
		unix.Close(stubStatusFD)
	}
	return status, nil
}

// joinCgroups moves the calling process into /rkt/cgroup/<key>/<app> for
// each key.
func joinCgroups(root, app string, keys []string) error {
	if err := podlayout.ValidAppName(app); err != nil {
		return fmt.Errorf("joining the app's cgroups: %w", err)
	}
	pid := []byte(strconv.Itoa(os.Getpid()))
	for _, k := range keys {
		if !validKey(k) {
			return fmt.Errorf("joining the app's cgroups: invalid hierarchy %q", k)
		}
		if err := os.WriteFile(appCgroupFile(root, k, app, "cgroup.procs"), pid, 0); err != nil {
			return fmt.Errorf("joining the app's cgroup in %s: %w", k, err)
		}
	}
	return nil
}

// execCode is the exit code recorded for an app whose exec failed.
func execCode(err error) int {
	switch {
	case errors.Is(err, caps.ErrNotExecutable) && errors.Is(err, fs.ErrNotExist),
		errors.Is(err, syscall.ENOENT):
		return 127
	case errors.Is(err, caps.ErrNotExecutable), errors.Is(err, syscall.EACCES),
		errors.Is(err, syscall.ENOEXEC), errors.Is(err, syscall.EPERM):
		return 126
	}
	return exitFailed
}

// stubFiles are the stub's fd 3 and 4 and the supervisor's end of the
// status pipe.
type stubFiles struct {
	spec, statusW, statusR *os.File
}

// newStubFiles writes c to a memfd and opens the status pipe.
func newStubFiles(c *confinement) (*stubFiles, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding the exec spec: %w", err)
	}
	fd, err := unix.MemfdCreate("rkt-exec-spec", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating the exec spec: %w", err)
	}
	spec := os.NewFile(uintptr(fd), "exec-spec")
	if _, err := spec.Write(data); err != nil {
		spec.Close()
		return nil, fmt.Errorf("writing the exec spec: %w", err)
	}
	if _, err := spec.Seek(0, io.SeekStart); err != nil {
		spec.Close()
		return nil, fmt.Errorf("writing the exec spec: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		spec.Close()
		return nil, fmt.Errorf("creating the exec status pipe: %w", err)
	}
	return &stubFiles{spec: spec, statusW: w, statusR: r}, nil
}

// closeChildEnds closes what only the stub needs, once it is started.
func (f *stubFiles) closeChildEnds() {
	f.spec.Close()
	f.statusW.Close()
}

// result reads the status pipe to its end: nil when the app was executed,
// else the stub's failure with the exit code it ends with.
func (f *stubFiles) result(app, name string) error {
	defer f.statusR.Close()
	msg, err := io.ReadAll(f.statusR)
	if err != nil {
		return &startError{App: app, What: "executing " + name, Code: exitFailed, Err: err}
	}
	if len(msg) == 0 {
		return nil
	}
	codeStr, text, _ := strings.Cut(string(msg), " ")
	code, err := strconv.Atoi(codeStr)
	if err != nil {
		code = exitFailed
	}
	return &startError{App: app, What: "executing " + name, Code: code, Err: errors.New(text)}
}

// appNofile is the soft RLIMIT_NOFILE every process of an app starts
// with (or the hard limit, when lower): the default systemd-nspawn gives
// a container's payload and systemd its services, hence rkt 1.30's apps.
// The Go runtime raises its own soft limit to the hard one at start; the
// supervisor puts it back to this at start (so that every process it
// forks inherits it), and so does the exec stub.
const appNofile = 1024

func setAppNofile() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	lim.Cur = min(appNofile, lim.Max)
	// syscall.Setrlimit also tells ForkExec to leave the limit alone.
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("setting RLIMIT_NOFILE: %w", err)
	}
	return nil
}
