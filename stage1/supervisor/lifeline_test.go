package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/podlayout"
)

// lifeline makes the pod's lifeline FIFO as the nspawn /init does and
// opens it for writing; closing the descriptor is the death of the
// process that started the pod.
func (p *testPod) lifeline(t *testing.T) int {
	t.Helper()
	path := filepath.Join(p.dir, podlayout.InPodLifeline)
	if err := unix.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// The end of the lifeline kills every app at once: not after the stop
// timeout, and without the post-stop handlers of a stop.
func TestPodLifelineCutKillsApps(t *testing.T) {
	needRoot(t)
	p := &testPod{
		apps: []testApp{
			{name: "a", exec: sh(`trap "" TERM; echo started; sleep 100`)},
			{name: "b", exec: []string{"/bin/sleep", "100"}},
		},
		rc: podlayout.RuntimeConfig{StopTimeout: time.Minute},
	}
	p.make(t)
	fd := p.lifeline(t)
	r := p.start(t, nil, nil)
	p.waitReady(t)
	cut := time.Now()
	unix.Close(fd)
	r.wait(t)
	if took := time.Since(cut); took > 5*time.Second {
		t.Errorf("the pod took %v to die after its lifeline was cut, want well under its 1m stop timeout", took)
	}
	// Nobody reads the pod's exit code any more; each app's status says
	// it was killed.
	for _, app := range []string{"a", "b"} {
		b, err := os.ReadFile(filepath.Join(p.dir, podlayout.InPodStatusDir, app))
		if err != nil || string(b) != "137" {
			t.Errorf("status of app %s: %q, %v; want 137 (SIGKILL)", app, b, err)
		}
	}
}

// A supervisor that finds no writer on the lifeline starts nothing.
func TestPodLifelineCutBeforeStart(t *testing.T) {
	needRoot(t)
	p := &testPod{apps: []testApp{{name: "a", exec: sh(`echo started`)}}}
	p.make(t)
	unix.Close(p.lifeline(t))
	res := p.start(t, nil, nil).wait(t)
	if res.code != 254 {
		t.Errorf("exit code %d, want 254", res.code)
	}
	if res.stdout != "" {
		t.Errorf("an app ran: %q", res.stdout)
	}
	if _, err := os.Stat(filepath.Join(p.dir, podlayout.InPodStatusDir, "a-started")); err == nil {
		t.Errorf("app a was started")
	}
}
