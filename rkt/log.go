package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/rkt/rkt/stage0/fetch"
)

// cliHandler renders library log records for a person reading stderr, in
// rkt's style:
//
//	image: signature verified:
//	  Example Signer <signer@example.com>
//	image: warning: signature verification has been disabled (...)
//
// Info and above are shown; Debug only with --debug. Attributes are shown
// only with --debug (as key=value), except "signer", which is the one
// detail rkt always printed, on its own indented line.
type cliHandler struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	debug  bool
	attrs  []slog.Attr
}

func newCLILogger(w io.Writer, prefix string, debug bool) *slog.Logger {
	return slog.New(&cliHandler{mu: &sync.Mutex{}, w: w, prefix: prefix, debug: debug})
}

func (h *cliHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.debug || l >= slog.LevelInfo
}

func (h *cliHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(h.prefix)
	b.WriteString(": ")
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	case r.Level == fetch.LevelDiag:
		// rkt 1.30's diagnostic lines, worded and marked as rkt's.
	case r.Level < slog.LevelInfo:
		b.WriteString("debug: ")
	}
	b.WriteString(r.Message)
	var signer string
	var extra []string
	add := func(a slog.Attr) bool {
		if a.Key == "signer" {
			signer = a.Value.String()
		} else if h.debug && a.Key != "" {
			extra = append(extra, fmt.Sprintf("%s=%q", a.Key, a.Value.String()))
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	if len(extra) > 0 {
		b.WriteString(" " + strings.Join(extra, " "))
	}
	if signer != "" {
		b.WriteString(":\n  " + signer)
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *cliHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), attrs...)
	return &c
}

// WithGroup is not used by the libraries; groups are flattened.
func (h *cliHandler) WithGroup(string) slog.Handler { return h }

// minLevel passes on the records of h at or above min only.
type minLevel struct {
	min slog.Level
	h   slog.Handler
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.h.Enabled(ctx, l)
}

func (m minLevel) Handle(ctx context.Context, r slog.Record) error { return m.h.Handle(ctx, r) }

func (m minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{m.min, m.h.WithAttrs(attrs)}
}

func (m minLevel) WithGroup(name string) slog.Handler { return minLevel{m.min, m.h.WithGroup(name)} }
