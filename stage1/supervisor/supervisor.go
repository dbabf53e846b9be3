package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/podlayout"
)

// Supervisor runs a pod's apps as its PID 1.
type Supervisor struct {
	Root                  string // the pod's root as the supervisor sees it: "/" in a pod
	Stdin, Stdout, Stderr *os.File
	Log                   *slog.Logger
	Level                 *slog.LevelVar // raised to Debug when the runtime config asks; may be nil

	runtime     *podlayout.RuntimeConfig
	listen      map[string][]*os.File // socket-activated apps' sockets (activation.go)
	interactive bool
	sink        *sink
	reaper      *reaper
	mux         *outputMux // nil for an interactive app
	filters     filterCache
	homesMu     sync.Mutex
	homes       map[string]homeCgroup // by v2 hierarchy key, see spawn.go
}

// diag writes one line of diagnostics to the pod's stderr, whole.
func (s *Supervisor) diag(line string) {
	var w io.Writer = s.Stderr
	if s.mux != nil {
		w = s.mux.stderr
	}
	fmt.Fprintln(w, line)
}

// Run starts every app at once and returns the pod's exit code once all are
// finished: the code of the first app that failed, 0 when none did. The
// first failure, or stop being closed, stops the other apps: SIGTERM, then
// SIGKILL after the runtime config's StopTimeout. An error means the pod
// could not be started at all (exit code 254).
func (s *Supervisor) Run(stop <-chan struct{}) (int, error) {
	// Before anything else: a pod whose starter is gone starts nothing.
	lifeline, err := watchLifeline(s.Root)
	if err != nil {
		return exitFailed, err
	}
	select {
	case <-lifeline:
		return exitFailed, ErrStarterGone
	default:
	}
	if s.Root == "/" {
		s.setupSelf()
	}
	pm, rc, specs, err := loadPod(s.Root)
	if err != nil {
		return exitFailed, err
	}
	s.listen = listenFiles(pm, specs)
	if rc.Debug && s.Level != nil {
		s.Level.Set(slog.LevelDebug)
	}
	s.runtime = rc
	s.interactive = rc.Interactive && len(specs) == 1
	names := make([]string, 0, len(specs))
	for _, sp := range specs {
		names = append(names, sp.Name)
	}
	if s.sink, err = newSink(s.Root, names, s.Log); err != nil {
		return exitFailed, err
	}

	if os.Getpid() != 1 {
		// Outside a PID namespace the orphans of the apps must still come
		// to us to be reaped.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			s.Log.Warn("becoming a child subreaper", "err", err)
		}
	}
	s.reaper = newReaper()
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	defer signal.Stop(sigchld)
	go func() {
		for range sigchld {
			s.reaper.reapAll()
		}
	}()

	// An interactive app keeps the terminal to itself; its output is not
	// journalled nor logged to a file (rkt 1.30's interactive app used the
	// console only).
	journalOn := !s.interactive && hasJournal(s.Root)
	if err := markJournal(s.Root, journalOn); err != nil {
		s.Log.Warn("recording where the apps' output goes", "err", err)
	}
	if !s.interactive {
		s.mux = &outputMux{stdout: &lockedWriter{w: s.Stdout}, stderr: &lockedWriter{w: s.Stderr},
			prefixed: len(specs) > 1, log: s.Log}
		if !journalOn {
			s.mux.logRoot = s.Root
		}
		if journalOn {
			s.mux.journalPod = rc.UUID
			if s.Root == "/" {
				s.mux.quietOut, s.mux.quietErr = consoleIsJournal(s.Log)
			}
		}
	}
	runners := make([]*runner, 0, len(specs))
	dones := make([]*condition, 0, len(specs))
	readies := []*condition{s.sink.started}
	for _, sp := range specs {
		r := newRunner(s, sp)
		runners = append(runners, r)
		dones = append(dones, r.done)
		readies = append(readies, r.ready)
	}
	allDone := allOf(dones...)
	for _, r := range runners {
		go r.run()
	}
	go s.notifyReady(allOf(readies...), allDone)

	select {
	case <-allDone.Done():
	case <-s.sink.failed.Done():
		s.Log.Debug("an app failed; stopping the pod")
	case <-stop:
		s.Log.Debug("stop requested; stopping the pod")
	case <-lifeline:
		s.Log.Debug("the rkt process that started the pod is gone; killing the pod")
	}
	if !allDone.IsSet() {
		s.stopApps(runners, allDone, lifeline)
	}
	<-allDone.Done()

	if os.Getpid() == 1 {
		// Whatever the apps left behind dies with the pod; this also
		// closes every output pipe so the copying below ends.
		syscall.Kill(-1, syscall.SIGKILL)
	}
	if s.mux != nil {
		s.mux.wg.Wait()
	}
	return s.sink.exitCode(), nil
}

// stopApps asks every runner to stop and kills what is left after the stop
// timeout. Once lifeline is closed (the process that started the pod is
// gone) every app is killed at once: nothing waits for the pod any more,
// and it must not outlive its starter by a stop timeout.
func (s *Supervisor) stopApps(runners []*runner, allDone *condition, lifeline <-chan struct{}) {
	if err := sdNotify("STOPPING=1"); err != nil {
		s.Log.Debug("notifying stop", "err", err)
	}
	select {
	case <-lifeline:
		for _, r := range runners {
			r.kill()
		}
		return
	default:
	}
	for _, r := range runners {
		r.beginStop()
	}
	timeout := s.runtime.StopTimeout
	if timeout <= 0 {
		timeout = podlayout.DefaultStopTimeout
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-allDone.Done():
	case <-t.C:
		s.Log.Debug("stop timeout passed; killing the apps", "timeout", timeout)
		for _, r := range runners {
			r.kill()
		}
	case <-lifeline:
		s.Log.Debug("the rkt process that started the pod is gone; killing the apps")
		for _, r := range runners {
			r.kill()
		}
	}
}

// notifyReady sends READY=1 to the service manager once every app started
// and every notify app reported ready.
func (s *Supervisor) notifyReady(ready, allDone *condition) {
	select {
	case <-ready.Done():
		if err := sdNotify("READY=1"); err != nil {
			s.Log.Warn("notifying readiness", "err", err)
		}
	case <-allDone.Done():
	}
}

// setupSelf prepares the supervisor's own root: its mounts do not
// propagate back to the host, and /proc, /sys and /dev/null exist (nspawn
// makes them; a bare chroot does not).
func (s *Supervisor) setupSelf() {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		s.Log.Debug("making / a slave mount", "err", err)
	}
	if !exists(filepath.Join(s.Root, "proc", "self")) {
		os.MkdirAll(filepath.Join(s.Root, "proc"), 0o555)
		if err := unix.Mount("proc", filepath.Join(s.Root, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			s.Log.Warn("mounting /proc", "err", err)
		}
	}
	// Masked files are covered with /dev/null (isolators.ApplyPaths).
	if fi, err := os.Stat(filepath.Join(s.Root, "dev", "null")); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		os.MkdirAll(filepath.Join(s.Root, "dev"), 0o755)
		os.Remove(filepath.Join(s.Root, "dev", "null"))
		if err := unix.Mknod(filepath.Join(s.Root, "dev", "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			s.Log.Warn("creating /dev/null", "err", err)
		}
	}
	if !exists(filepath.Join(s.Root, "sys", "kernel")) {
		os.MkdirAll(filepath.Join(s.Root, "sys"), 0o555)
		if err := unix.Mount("sysfs", filepath.Join(s.Root, "sys"), "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			s.Log.Warn("mounting /sys", "err", err)
		}
	}
}
