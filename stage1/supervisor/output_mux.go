package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
)

// appOutput is the stdout and stderr given to one process of an app.
// For an interactive app they are the supervisor's own descriptors (the
// terminal), passed straight through. Otherwise each process gets pipes
// whose lines are copied to the supervisor's stdout and stderr, with
// rkt's "app[pid]: " prefix when the pod has several apps, and sent to
// the journal too when journald's socket is there (rkt 1.30's
// journal+console), else written to the app's log file (appLog).
type appOutput struct {
	stdout, stderr *os.File // the child's ends
	app            string
	readOut        *os.File // our ends (several apps only)
	readErr        *os.File
	mux            *outputMux
}

// outputMux owns the copying goroutines of a pod whose output is piped.
type outputMux struct {
	stdout, stderr *lockedWriter
	prefixed       bool   // several apps: console lines start with "app[pid]: "
	journalPod     string // the pod's UUID when lines go to the journal too
	// quietOut and quietErr: that console stream is itself the journal
	// (JOURNAL_STREAM, a unit's StandardOutput=journal), which already
	// has every line with its fields; copying it there too would show it
	// twice in journalctl -u.
	quietOut, quietErr bool
	// logRoot: without the journal, each app's lines go to its log file
	// under this root as well.
	logRoot string
	logsMu  sync.Mutex
	logs    map[string]*appLog // nil value: the log could not be opened
	log     *slog.Logger
	wg      sync.WaitGroup
}

// appLog is app's log file, opened at its first process; nil when the
// mux writes no log files or the file could not be opened.
func (m *outputMux) appLog(app string) *appLog {
	if m.logRoot == "" {
		return nil
	}
	m.logsMu.Lock()
	defer m.logsMu.Unlock()
	if l, ok := m.logs[app]; ok {
		return l
	}
	l, err := openAppLog(m.logRoot, app)
	if err != nil {
		m.log.Warn("the app's output goes to the console only", "app", app, "err", err)
		l = nil
	}
	if m.logs == nil {
		m.logs = map[string]*appLog{}
	}
	m.logs[app] = l
	return l
}

func (o *appOutput) closeChildEnds() {
	if o.readOut != nil {
		o.stdout.Close()
		o.stderr.Close()
	}
}

// abort closes our ends too, when the process did not start.
func (o *appOutput) abort() {
	if o.readOut != nil {
		o.readOut.Close()
		o.readErr.Close()
	}
}

// started begins copying the process's lines once its pid is known.
func (o *appOutput) started(pid int) {
	if o.readOut == nil {
		return
	}
	prefix := ""
	if o.mux.prefixed {
		prefix = fmt.Sprintf("%s[%d]: ", o.app, pid)
	}
	for _, p := range []struct {
		src      *os.File
		dst      io.Writer
		priority journal.Priority
	}{{o.readOut, consoleOf(o.mux.stdout, o.mux.quietOut), journal.PriInfo},
		{o.readErr, consoleOf(o.mux.stderr, o.mux.quietErr), journal.PriErr}} {
		var line func([]byte)
		if l := o.mux.appLog(o.app); l != nil {
			line = func(b []byte) {
				if err := l.line(b, time.Now()); err != nil {
					o.mux.log.Warn("writing the app's log; the console keeps its output", "app", o.app, "err", err)
				}
			}
		}
		if o.mux.journalPod != "" {
			j := newJournalSink(o.mux.journalPod, o.app, pid, p.priority)
			line = func(b []byte) {
				if err := j.line(b); err != nil {
					o.mux.log.Warn("sending output to the journal; the console keeps it", "app", o.app, "err", err)
				}
			}
		}
		o.mux.wg.Add(1)
		go func() {
			defer o.mux.wg.Done()
			defer p.src.Close()
			copyPrefixed(p.dst, p.src, prefix, line)
		}()
	}
}

// outputs returns the output of the next process of app.
func (s *Supervisor) outputs(app string) *appOutput {
	if s.mux == nil {
		return &appOutput{stdout: s.Stdout, stderr: s.Stderr, app: app}
	}
	o := &appOutput{app: app, mux: s.mux}
	var err error
	if o.readOut, o.stdout, err = os.Pipe(); err != nil {
		s.Log.Error("creating an output pipe; passing output through unprefixed", "app", app, "err", err)
		return &appOutput{stdout: s.Stdout, stderr: s.Stderr, app: app}
	}
	if o.readErr, o.stderr, err = os.Pipe(); err != nil {
		o.readOut.Close()
		o.stdout.Close()
		s.Log.Error("creating an output pipe; passing output through unprefixed", "app", app, "err", err)
		return &appOutput{stdout: s.Stdout, stderr: s.Stderr, app: app}
	}
	return o
}

func consoleOf(w *lockedWriter, quiet bool) io.Writer {
	if quiet {
		return io.Discard
	}
	return w
}
