package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rkt/rkt/common/podlayout"
)

// appLog is one app's log file (podlayout.InPodLogDir), shared by every
// process of the app and by their stdout and stderr. Each line is written
// whole, with the time it was read; at podlayout.MaxLogPart the file
// becomes <app>.1 and a new one starts. After a failure it writes nothing
// more: the console still has every line.
type appLog struct {
	mu     sync.Mutex
	path   string
	f      *os.File
	size   int64
	failed bool
	buf    []byte
}

// openAppLog opens (appending) the log of app under root.
func openAppLog(root, app string) (*appLog, error) {
	dir := filepath.Join(root, podlayout.InPodLogDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the log directory: %w", err)
	}
	l := &appLog{path: filepath.Join(dir, app)}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *appLog) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening the log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening the log: %w", err)
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// line writes one line (or piece of a long line), stamped with now.
func (l *appLog) line(b []byte, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed {
		return nil
	}
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	l.buf = now.UTC().AppendFormat(l.buf[:0], podlayout.LogTimeLayout)
	l.buf = append(l.buf, ' ')
	l.buf = append(l.buf, b...)
	l.buf = append(l.buf, '\n')
	if l.size > 0 && l.size+int64(len(l.buf)) > podlayout.MaxLogPart {
		if err := l.rotate(); err != nil {
			l.failed = true
			return err
		}
	}
	n, err := l.f.Write(l.buf)
	l.size += int64(n)
	if err != nil {
		l.failed = true
		return fmt.Errorf("writing the log: %w", err)
	}
	return nil
}

// rotate makes the file <app>.1 and opens a new one.
func (l *appLog) rotate() error {
	l.f.Close()
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return fmt.Errorf("rotating the log: %w", err)
	}
	return l.open()
}
