package main

import (
	"fmt"
	"os"
	"sync"
)

// appOutput is the stdout and stderr given to one process of an app.
// With one app they are the supervisor's own descriptors, passed straight
// through; with several, each process gets pipes whose lines are copied to
// the supervisor's stdout and stderr with rkt's "app[pid]: " prefix.
type appOutput struct {
	stdout, stderr *os.File // the child's ends
	app            string
	readOut        *os.File // our ends (several apps only)
	readErr        *os.File
	mux            *outputMux
}

// outputMux owns the copying goroutines of a pod of several apps.
type outputMux struct {
	stdout, stderr *lockedWriter
	wg             sync.WaitGroup
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
	prefix := fmt.Sprintf("%s[%d]: ", o.app, pid)
	for _, p := range []struct {
		src *os.File
		dst *lockedWriter
	}{{o.readOut, o.mux.stdout}, {o.readErr, o.mux.stderr}} {
		o.mux.wg.Add(1)
		go func() {
			defer o.mux.wg.Done()
			defer p.src.Close()
			copyPrefixed(p.dst, p.src, prefix)
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
