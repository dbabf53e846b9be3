package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/podlayout"
)

// eventKind is a step in an app's life, in order.
type eventKind int

const (
	evWaiting   eventKind = iota // known, nothing done yet
	evPreparing                  // mounts, user and environment being set up
	evRunning                    // the app's process is running
	evExited                     // the app's process exited (or never started)
)

func (k eventKind) String() string {
	switch k {
	case evWaiting:
		return "waiting"
	case evPreparing:
		return "preparing"
	case evRunning:
		return "running"
	case evExited:
		return "exited"
	}
	return fmt.Sprintf("event(%d)", int(k))
}

// event is what a runner reports about its app.
type event struct {
	App  string
	Kind eventKind
	Pid  int  // evRunning
	Code int  // evExited: the exit code recorded in rkt/status/<app>
	Fail bool // evExited: the exit counts as the app failing (stops the pod)
}

// sink receives every runner's events and is the only writer of the status
// files:
//
//	rkt/status/<app>-created   empty, when the app starts being prepared
//	rkt/status/<app>-started   empty, when its process runs
//	rkt/status/<app>           exit code, decimal, when it exited
//	rkt/supervisor-status      symlink -> ready, once every app started
//
// It derives the pod's conditions from the events: every app started (or
// already gone), the first failure and its code, every app exited.
type sink struct {
	root string // "/" in a pod
	log  *slog.Logger

	mu        sync.Mutex
	state     map[string]eventKind
	firstCode int

	started   *condition // every app has reached evRunning or evExited
	failed    *condition // some app failed; firstCode holds its code
	allExited *condition // every app reached evExited
}

func newSink(root string, apps []string, log *slog.Logger) (*sink, error) {
	s := &sink{
		root:      root,
		log:       log,
		state:     make(map[string]eventKind, len(apps)),
		started:   newCondition(),
		failed:    newCondition(),
		allExited: newCondition(),
	}
	for _, a := range apps {
		s.state[a] = evWaiting
	}
	for _, d := range []string{podlayout.InPodStatusDir, podlayout.InPodEnvDir} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	if len(apps) == 0 {
		s.started.Set()
		s.allExited.Set()
	}
	return s, nil
}

// report records one event. Events of one app arrive in order (from its
// runner); a status file that cannot be written is returned as an error
// but the conditions still advance, so that the pod never hangs on a full
// disk.
func (s *sink) report(e event) error {
	s.log.Debug("app event", "app", e.App, "event", e.Kind.String(), "pid", e.Pid, "code", e.Code)
	var err error
	switch e.Kind {
	case evPreparing:
		err = s.touch(e.App + "-created")
	case evRunning:
		err = s.touch(e.App + "-started")
	case evExited:
		err = podlayout.WriteAppStatus(filepath.Join(s.root, podlayout.InPodStatusDir, e.App), e.Code)
	}

	s.mu.Lock()
	if _, known := s.state[e.App]; !known {
		s.mu.Unlock()
		return fmt.Errorf("recording event %s of app %s: unknown app", e.Kind, e.App)
	}
	if e.Kind > s.state[e.App] {
		s.state[e.App] = e.Kind
	}
	if e.Kind == evExited && e.Fail && !s.failed.IsSet() {
		s.firstCode = e.Code
		s.failed.Set()
	}
	allStarted, allExited := true, true
	for _, k := range s.state {
		allStarted = allStarted && k >= evRunning
		allExited = allExited && k == evExited
	}
	s.mu.Unlock()

	if allStarted && !s.started.IsSet() {
		if lerr := s.markReady(); lerr != nil && err == nil {
			err = lerr
		}
		s.started.Set()
	}
	if allExited {
		s.allExited.Set()
	}
	if err != nil {
		return fmt.Errorf("recording event %s of app %s: %w", e.Kind, e.App, err)
	}
	return nil
}

// exitCode is the pod's exit code: the first failing app's code, or 0.
func (s *sink) exitCode() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed.IsSet() {
		return s.firstCode
	}
	return 0
}

// touch writes an empty marker whose mtime is the time of the event. The
// markers, like the ready link, are remade at every start of the pod and
// mean nothing after a crash of the host: they are not fsynced. The exit
// status (podlayout.WriteAppStatus) is.
func (s *sink) touch(name string) error {
	return atomicfile.ReplaceFile(filepath.Join(s.root, podlayout.InPodStatusDir, name), nil, 0o644)
}

// markReady points rkt/supervisor-status at "ready", replacing any old
// link by rename so a reader sees the link or nothing.
func (s *sink) markReady() error {
	final := filepath.Join(s.root, podlayout.InPodSupervisorStatus)
	tmp := filepath.Join(filepath.Dir(final), atomicfile.TempPrefix+filepath.Base(final))
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("marking the supervisor ready: %w", err)
	}
	if err := os.Symlink(podlayout.SupervisorReady, tmp); err != nil {
		return fmt.Errorf("marking the supervisor ready: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("marking the supervisor ready: %w", err)
	}
	return nil
}
