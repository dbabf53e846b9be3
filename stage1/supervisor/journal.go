package main

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/coreos/go-systemd/v22/journal"

	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/podlayout"
)

// journalSocket is journald's native socket. stage1 binds the host's into
// the stage1 rootfs (read-only, never into an app's rootfs) when the host
// has one, so the supervisor finds it at the same path.
const journalSocket = "/run/systemd/journal/socket"

// hasJournal reports whether journald's socket is under root. Only a stat:
// without a journal the supervisor opens no socket and sends nothing.
func hasJournal(root string) bool {
	fi, err := os.Stat(filepath.Join(root, journalSocket))
	return err == nil && fi.Mode().Type() == os.ModeSocket
}

// markJournal records under root whether the apps' output goes to the
// journal (podlayout.InPodJournalMarker), for readers of the pod's logs
// such as the api-service's GetLogs.
func markJournal(root string, on bool) error {
	p := filepath.Join(root, podlayout.InPodJournalMarker)
	if on {
		return atomicfile.ReplaceFile(p, nil, 0o644)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// journalSink sends one app process's lines to the journal, with the fields
// a user filters on: SYSLOG_IDENTIFIER (as rkt 1.30's app units set it),
// RKT_APP and RKT_POD_UUID.
type journalSink struct {
	priority journal.Priority
	vars     map[string]string
	failed   bool
}

func newJournalSink(pod, app string, pid int, priority journal.Priority) *journalSink {
	return &journalSink{priority: priority, vars: map[string]string{
		"SYSLOG_IDENTIFIER": app,
		"SYSLOG_PID":        strconv.Itoa(pid),
		"RKT_APP":           app,
		"RKT_POD_UUID":      pod,
	}}
}

// line sends one line (or piece of a long line) without its newline. After
// the first failure it sends nothing more: the console still has the line.
func (j *journalSink) line(b []byte) error {
	if j.failed {
		return nil
	}
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if err := journal.Send(string(b), j.priority, j.vars); err != nil {
		j.failed = true
		return err
	}
	return nil
}

// consoleIsJournal reports which of the supervisor's stdout and stderr are
// the journal already: systemd names a unit's journal stream in
// JOURNAL_STREAM, which stage1 hands on to the supervisor.
func consoleIsJournal(log *slog.Logger) (stdout, stderr bool) {
	var err error
	if stdout, err = journal.StdoutIsJournalStream(); err != nil {
		log.Warn("checking whether stdout is the journal", "err", err)
	}
	if stderr, err = journal.StderrIsJournalStream(); err != nil {
		log.Warn("checking whether stderr is the journal", "err", err)
	}
	return stdout, stderr
}
