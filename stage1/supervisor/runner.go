package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"

	"github.com/rkt/rkt/stage1/appexec"
	"github.com/rkt/rkt/stage1/isolation/isolators"
)

// procKind is what a runner's current process is.
type procKind int

const (
	procNone procKind = iota
	procPreStart
	procApp
	procPostStop
)

// runner runs one app through its life (prepare, pre-start handlers, the
// app, post-stop handlers) and reports each step to the sink. The
// supervisor stops it with beginStop (SIGTERM to a pre-start handler or the
// app; post-stop handlers are left to finish) and kill (SIGKILL to
// anything, and no further process starts).
type runner struct {
	spec appSpec
	sup  *Supervisor
	done *condition // the runner has nothing left to do
	// ready holds once the app said READY=1 (notify apps) or once it
	// runs (others).
	ready *condition

	mu       sync.Mutex
	stopping bool     // the pod is stopping: start no pre-start or app
	killing  bool     // past the stop timeout: start nothing
	cur      int      // pid (and process group) of the current process
	curKind  procKind // what cur is
	stdin    *os.File // the app's /dev/null
	env      []string
	id       appexec.Identity
	policy   *appPolicy   // the app's isolators, set by prepare
	conf     *confinement // the app's own process, set by prepare
}

func newRunner(sup *Supervisor, spec appSpec) *runner {
	return &runner{spec: spec, sup: sup, done: newCondition(), ready: newCondition()}
}

func (r *runner) report(e event) {
	e.App = r.spec.Name
	if err := r.sup.sink.report(e); err != nil {
		r.sup.Log.Error("recording app status", "app", r.spec.Name, "err", err)
	}
}

// run is the runner's whole life; it returns when the app and its
// handlers are finished.
func (r *runner) run() {
	defer r.done.Set()
	defer func() {
		if r.stdin != nil {
			r.stdin.Close()
		}
	}()
	r.report(event{Kind: evPreparing})
	if err := r.prepare(); err != nil {
		r.sup.Log.Error("preparing app", "app", r.spec.Name, "err", err)
		r.report(event{Kind: evExited, Code: exitFailed, Fail: !r.isStopping()})
		return
	}
	defer r.postStop()

	for _, h := range handlers(r.spec.App, "pre-start") {
		code, err := r.runHandler(procPreStart, h)
		if errors.Is(err, errStopping) {
			return
		}
		if err != nil || code != 0 {
			if err != nil {
				r.sup.Log.Error("running pre-start handler", "app", r.spec.Name, "err", err)
			} else {
				r.sup.Log.Error("pre-start handler failed", "app", r.spec.Name, "exec", strings.Join(h, " "), "code", code)
			}
			r.report(event{Kind: evExited, Code: code, Fail: !r.isStopping()})
			return
		}
	}

	dir := r.spec.App.WorkingDirectory
	if dir == "" {
		dir = "/"
	}
	pid, wait, err := r.start(procApp, r.spec.App.Exec, r.id, dir)
	if errors.Is(err, errStopping) {
		return
	}
	if err != nil {
		code := exitFailed
		var se *startError
		if errors.As(err, &se) {
			code = se.Code
		}
		r.sup.Log.Error("starting app", "app", r.spec.Name, "err", err)
		r.report(event{Kind: evExited, Code: code, Fail: !r.isStopping()})
		return
	}
	r.report(event{Kind: evRunning, Pid: pid})
	if !r.spec.Notify {
		r.ready.Set()
	}
	ws := <-wait
	r.finished()
	code := exitCode(ws)
	// Exits once the pod is stopping are the stop's doing, not failures.
	r.report(event{Kind: evExited, Pid: pid, Code: code, Fail: code != 0 && !r.isStopping()})
}

// prepare mounts the app's file systems and works out its user and
// environment, which it records in rkt/env/<app>.
func (r *runner) prepare() error {
	s := r.sup
	rc := s.runtime
	err := prepareRootfs(rootfsSetup{
		Stage1:   s.Root,
		App:      r.spec.Name,
		Rootfs:   r.spec.Rootfs,
		ReadOnly: r.spec.ReadOnlyRootFS,
		Volumes:  r.spec.Volumes,
		Console:  rc.Interactive,
		Hostname: rc.Hostname,
		Runtime:  rc,
		Extra:    r.setupNotify,
	})
	if err != nil {
		return fmt.Errorf("preparing the rootfs: %w", err)
	}
	root, err := os.OpenRoot(r.spec.Rootfs)
	if err != nil {
		return fmt.Errorf("opening the rootfs: %w", err)
	}
	defer root.Close()
	a := r.spec.App
	id, err := appexec.ResolveIdentity(root, a.User, a.Group, a.SupplementaryGIDs)
	if err != nil {
		return err
	}
	if a.WorkingDirectory != "" {
		// A missing working directory is created, owned by root, rather
		// than failing the app at chdir.
		rel, err := appexec.ResolveInRoot(root, a.WorkingDirectory)
		if err != nil {
			return fmt.Errorf("creating the working directory: %w", err)
		}
		if err := root.MkdirAll(rel, 0o755); err != nil {
			return fmt.Errorf("creating the working directory %s: %w", a.WorkingDirectory, err)
		}
	}
	term := ""
	if rc.Interactive {
		term = os.Getenv("TERM")
	}
	env, err := buildEnv(envInput{
		App: r.spec.Name, Image: r.spec.ImageEnv, Override: r.spec.OverrideEnv,
		SetEnv: rc.SetEnv, MetadataURL: rc.MetadataServiceURL, ID: id, Term: term,
	})
	if err != nil {
		return err
	}
	if r.spec.Notify {
		env.Set("NOTIFY_SOCKET", notifySocketInApp)
	}
	if err := writeEnvFile(s.Root, r.spec.Name, env); err != nil {
		return err
	}
	r.env, r.id = env.List(), id
	if err := r.isolate(); err != nil {
		return err
	}
	f, err := os.OpenFile(path.Join(r.spec.Rootfs, "dev", "null"), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("opening /dev/null: %w", err)
	}
	r.stdin = f
	return nil
}

// isolate works out how the app is confined, reports what cannot be
// applied, hides and protects the sensitive /proc and /sys paths, and
// records the app's confinement for enter.
func (r *runner) isolate() error {
	s := r.sup
	p, err := policy(s.Root, r.spec, s.runtime, r.id.UID)
	if err != nil {
		return fmt.Errorf("applying isolators: %w", err)
	}
	for _, n := range p.notes {
		s.diag(n.String())
	}
	if err := mountAppCgroups(s.Root, r.spec.Rootfs, r.spec.Name, p.cgroups); err != nil {
		return err
	}
	if err := isolators.ApplyPaths(r.spec.Rootfs, p.pathsOpen); err != nil {
		return fmt.Errorf("restricting /proc and /sys: %w", err)
	}
	dir := r.spec.App.WorkingDirectory
	if dir == "" {
		dir = "/"
	}
	c, err := s.confine(r.spec, p, r.id, dir, r.env)
	if err != nil {
		return fmt.Errorf("applying isolators: %w", err)
	}
	if err := writeConfinement(s.Root, c); err != nil {
		return err
	}
	r.policy, r.conf = p, c
	return nil
}

// runHandler runs an event handler as root in the app's rootfs and waits
// for it.
func (r *runner) runHandler(kind procKind, argv []string) (int, error) {
	_, wait, err := r.start(kind, argv, appexec.Identity{}, "/")
	if err != nil {
		return exitFailed, err
	}
	ws := <-wait
	r.finished()
	return exitCode(ws), nil
}

// postStop runs the post-stop handlers, unless the stop timeout passed.
func (r *runner) postStop() {
	for _, h := range handlers(r.spec.App, "post-stop") {
		code, err := r.runHandler(procPostStop, h)
		if errors.Is(err, errStopping) {
			return
		}
		if err != nil {
			r.sup.Log.Error("running post-stop handler", "app", r.spec.Name, "err", err)
		} else if code != 0 {
			r.sup.Log.Error("post-stop handler failed", "app", r.spec.Name, "exec", strings.Join(h, " "), "code", code)
		}
	}
}

// start starts one process of the app through the exec stub, confined
// (chrooted into its rootfs, in its cgroups, with its capabilities,
// no_new_privs and seccomp filter), in a process group of its own (a
// session with the terminal when the pod is interactive). It returns once
// the process executed the command, or failed to.
func (r *runner) start(kind procKind, argv []string, id appexec.Identity, dir string) (int, <-chan syscall.WaitStatus, error) {
	argv0, err := r.lookExec(argv[0])
	if err != nil {
		return 0, nil, err
	}
	s := r.sup
	var c confinement
	if kind == procApp {
		c = *r.conf
	} else {
		hc, err := s.confine(r.spec, r.policy, id, dir, r.env)
		if err != nil {
			return 0, nil, &startError{App: r.spec.Name, What: "confining " + argv[0], Code: exitFailed, Err: err}
		}
		c = *hc
	}
	c.Path, c.Args = argv0, argv
	sys := &syscall.SysProcAttr{}
	if s.interactive && kind == procApp {
		sys.Setsid, sys.Setctty, sys.Ctty = true, true, 0
	} else {
		sys.Setpgid = true
	}
	out := s.outputs(r.spec.Name)
	defer out.closeChildEnds()
	// Only an interactive app reads the terminal; handlers and other
	// apps read /dev/null.
	stdin := r.stdin
	if s.interactive && kind == procApp {
		stdin = s.Stdin
	}
	stdio := []uintptr{stdin.Fd(), out.stdout.Fd(), out.stderr.Fd()}

	// An interactive app takes the terminal from the supervisor's
	// session (TIOCSCTTY stealing it needs CAP_SYS_ADMIN), which only the
	// stub can do before it drops the app's privileges.
	// A socket-activated app gets its sockets as fds 3.. and its own
	// LISTEN_PID, which only the stub can give it.
	var listen []uintptr
	if kind == procApp {
		for _, f := range s.listen[r.spec.Name] {
			listen = append(listen, f.Fd())
		}
		c.ListenFDs = len(listen)
	}
	var h appHierarchies
	ok := false
	if !sys.Setctty && len(listen) == 0 {
		h, ok = s.spawnable(&c)
	}
	if ok {
		s.Log.Debug("starting from a confined thread", "app", r.spec.Name, "exec", argv[0])
		pid, wait, err := r.fork(kind, func() (int, error) { return s.spawn(&c, h, stdio, sys) })
		if err != nil {
			out.abort()
			if errors.Is(err, errStopping) {
				return 0, nil, err
			}
			return 0, nil, &startError{App: r.spec.Name, What: "executing " + argv[0], Code: execCode(err), Err: err}
		}
		out.started(pid)
		return pid, wait, nil
	}

	s.Log.Debug("starting through the exec stub", "app", r.spec.Name, "exec", argv[0])
	files, err := newStubFiles(&c)
	if err != nil {
		out.abort()
		return 0, nil, &startError{App: r.spec.Name, What: "starting " + argv[0], Code: exitFailed, Err: err}
	}
	attr := &syscall.ProcAttr{
		Dir:   "/",
		Files: append(append(stdio, files.spec.Fd(), files.statusW.Fd()), listen...),
		Sys:   sys,
	}
	pid, wait, err := r.fork(kind, func() (int, error) {
		return syscall.ForkExec(selfExe, []string{"/supervisor", execAppFlag}, attr)
	})
	files.closeChildEnds()
	if err != nil {
		files.statusR.Close()
		out.abort()
		if errors.Is(err, errStopping) {
			return 0, nil, err
		}
		return 0, nil, startErr(r.spec.Name, argv[0], err)
	}
	out.started(pid)
	if err := files.result(r.spec.Name, argv[0]); err != nil {
		<-wait
		r.finished()
		return 0, nil, err
	}
	return pid, wait, nil
}

// fork starts a process with start (the exec stub, or spawn), unless the
// pod is stopping, and makes it the runner's current process.
func (r *runner) fork(kind procKind, start func() (int, error)) (int, <-chan syscall.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.killing || (r.stopping && kind != procPostStop) {
		return 0, nil, errStopping
	}
	pid, wait, err := r.sup.reaper.start(start)
	if err != nil {
		return 0, nil, err
	}
	r.cur, r.curKind = pid, kind
	return pid, wait, nil
}

// finished forgets the current process once it has been reaped.
func (r *runner) finished() {
	r.mu.Lock()
	r.cur, r.curKind = 0, procNone
	r.mu.Unlock()
}

func (r *runner) isStopping() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopping
}

// beginStop marks the runner stopping and sends SIGTERM to its pre-start
// handler, or the app's stop signal (appSpec.StopSignal) to the app (the
// whole process group).
func (r *runner) beginStop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopping = true
	if r.cur == 0 || r.curKind == procPostStop {
		return
	}
	sig := syscall.SIGTERM
	if r.curKind == procApp && r.spec.StopSignal != 0 {
		sig = r.spec.StopSignal
	}
	syscall.Kill(-r.cur, sig)
}

// kill sends SIGKILL to whatever the runner runs and starts nothing more.
func (r *runner) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopping, r.killing = true, true
	if r.cur != 0 {
		syscall.Kill(-r.cur, syscall.SIGKILL)
	}
}

// lookExec resolves a command name as the app will: an absolute path is
// used as is (the kernel resolves it after chroot); a bare name is looked
// up in the app's PATH inside its rootfs.
func (r *runner) lookExec(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathEnv := DefaultPath
	for _, kv := range r.env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	root, err := os.OpenRoot(r.spec.Rootfs)
	if err != nil {
		return "", &startError{App: r.spec.Name, What: "looking up " + name, Code: exitFailed, Err: err}
	}
	defer root.Close()
	for _, dir := range strings.Split(pathEnv, ":") {
		if !strings.HasPrefix(dir, "/") {
			continue
		}
		p := path.Join(dir, name)
		rel, err := appexec.ResolveInRoot(root, p)
		if err != nil {
			continue
		}
		if fi, err := root.Stat(rel); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &startError{App: r.spec.Name, What: "looking up " + name + " in PATH", Code: 127, Err: fs.ErrNotExist}
}

func startErr(app, name string, err error) error {
	code := exitFailed
	switch {
	case errors.Is(err, syscall.ENOENT):
		code = 127
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.ENOEXEC), errors.Is(err, syscall.EPERM):
		code = 126
	}
	return &startError{App: app, What: "executing " + name, Code: code, Err: err}
}
