package apiservice

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"time"

	"github.com/rkt/rkt/api/v1alpha"
	"github.com/rkt/rkt/common/podlayout"
)

// followInterval is how often a followed log file is looked at.
const followInterval = 250 * time.Millisecond

// logLine is one line of an app's log file.
type logLine struct {
	t    time.Time
	text string
}

// logFollower reads one app's log file (podlayout.AppLogPath) from where
// it stopped, across the supervisor's renaming of the file to <app>.1.
type logFollower struct {
	path    string
	f       *os.File // nil until the file exists
	fi      fs.FileInfo
	partial []byte // a line not yet whole
}

// openLogFollower reads what app's log holds (the older part first) and
// stays at its end.
func openLogFollower(path string) (*logFollower, []logLine, error) {
	l := &logFollower{path: path}
	// The current file is opened first: a rename after the older part is
	// read leaves the lines in the file held open.
	if err := l.reopen(); err != nil {
		return nil, nil, err
	}
	lines, err := readLogFile(path + ".1")
	if err != nil {
		l.close()
		return nil, nil, err
	}
	more, err := l.drain()
	if err != nil {
		l.close()
		return nil, nil, err
	}
	return l, append(lines, more...), nil
}

// reopen opens the file now at l.path, if any.
func (l *logFollower) reopen() error {
	f, err := os.Open(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening the log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening the log: %w", err)
	}
	l.f, l.fi, l.partial = f, fi, nil
	return nil
}

func (l *logFollower) close() {
	if l.f != nil {
		l.f.Close()
	}
}

// drain reads the open file to its end.
func (l *logFollower) drain() ([]logLine, error) {
	if l.f == nil {
		return nil, nil
	}
	b, err := io.ReadAll(l.f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", l.path, err)
	}
	b = append(l.partial, b...)
	end := bytes.LastIndexByte(b, '\n') + 1
	l.partial = append([]byte(nil), b[end:]...)
	return parseLogLines(b[:end]), nil
}

// poll returns the lines written since the last look.
func (l *logFollower) poll() ([]logLine, error) {
	lines, err := l.drain()
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return lines, nil // between the rename and the new file
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", l.path, err)
	}
	if l.f != nil && os.SameFile(fi, l.fi) {
		return lines, nil
	}
	// Renamed to .1 (or created): what was written to the old file
	// before the rename, then the new file.
	more, err := l.drain()
	if err != nil {
		return nil, err
	}
	l.close()
	l.f = nil
	if err := l.reopen(); err != nil {
		return nil, err
	}
	newer, err := l.drain()
	if err != nil {
		return nil, err
	}
	return append(append(lines, more...), newer...), nil
}

// readLogFile is every line of one part of a log; none when it is absent.
func readLogFile(path string) ([]logLine, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the log: %w", err)
	}
	return parseLogLines(b), nil
}

// parseLogLines splits whole lines "<time> <text>\n"; a line without a
// time the supervisor writes (none should exist) is kept with a zero time.
func parseLogLines(b []byte) []logLine {
	var lines []logLine
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			i = len(b)
		}
		raw := b[:i]
		b = b[min(i+1, len(b)):]
		ts, text, ok := bytes.Cut(raw, []byte(" "))
		t, err := time.Parse(podlayout.LogTimeLayout, string(ts))
		if !ok || err != nil {
			lines = append(lines, logLine{text: string(raw)})
			continue
		}
		lines = append(lines, logLine{t: t, text: string(text)})
	}
	return lines
}

// fileLogs answers GetLogs from the log files of apps (the pod directory
// pod): the lines of every app merged by time, within since/until, the
// last req.Lines of them; with follow, then every new line until ctx ends.
func fileLogs(ctx context.Context, pod string, apps []string, req *v1alpha.GetLogsRequest, send func(*v1alpha.GetLogsResponse) error) error {
	var followers []*logFollower
	defer func() {
		for _, f := range followers {
			f.close()
		}
	}()
	var lines []logLine
	for _, app := range apps {
		f, l, err := openLogFollower(podlayout.AppLogPath(pod, app))
		if err != nil {
			return errStatus(err, "reading the log of app "+app)
		}
		followers = append(followers, f)
		lines = append(lines, l...)
	}
	lines = inWindow(lines, req)
	if n := int(req.GetLines()); n > 0 && len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if err := sendLogLines(lines, send); err != nil {
		return err
	}
	if !req.GetFollow() {
		return nil
	}
	tick := time.NewTicker(followInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		var fresh []logLine
		for i, f := range followers {
			l, err := f.poll()
			if err != nil {
				return errStatus(err, "reading the log of app "+apps[i])
			}
			fresh = append(fresh, l...)
		}
		if err := sendLogLines(inWindow(fresh, req), send); err != nil {
			return err
		}
	}
}

// inWindow orders lines by time (stable: one app's lines keep their
// order) and keeps those within since_time and until_time, both seconds
// included.
func inWindow(lines []logLine, req *v1alpha.GetLogsRequest) []logLine {
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].t.Before(lines[j].t) })
	since, until := req.GetSinceTime(), req.GetUntilTime()
	kept := lines[:0]
	for _, l := range lines {
		if since != 0 && l.t.Unix() < since || until != 0 && l.t.Unix() > until {
			continue
		}
		kept = append(kept, l)
	}
	return kept
}

// sendLogLines sends lines, maxLinesPerResponse at a time.
func sendLogLines(lines []logLine, send func(*v1alpha.GetLogsResponse) error) error {
	for len(lines) > 0 {
		n := min(len(lines), maxLinesPerResponse)
		r := &v1alpha.GetLogsResponse{Lines: make([]string, n)}
		for i := range r.Lines {
			r.Lines[i] = lines[i].text
		}
		if err := send(r); err != nil {
			return err
		}
		lines = lines[n:]
	}
	return nil
}
