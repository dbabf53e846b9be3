package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/appc/spec/schema/types"
	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/stage1/isolation/caps"
	"github.com/rkt/rkt/stage1/isolation/seccomp"
)

// The default filter must leave the runtime what it needs on a confined
// thread, or every app would silently pay for the exec stub.
func TestDefaultFilterAllowsSpawn(t *testing.T) {
	for _, set := range []caps.Set{0, caps.Default} {
		allowed, err := seccomp.Allowed(seccomp.Profile{Caps: uint64(set)})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range caps.RuntimeSyscalls {
			if _, ok := slices.BinarySearch(allowed, n); !ok {
				t.Errorf("caps %s: the default filter denies %s", set, n)
			}
		}
	}
}

// An app whose filter denies a syscall the runtime may make on the
// confined thread starts through the exec stub, still under its filter;
// the others start from a confined thread.
func TestSpawnOrStub(t *testing.T) {
	needRoot(t)
	p := &testPod{
		apps: []testApp{
			{name: "spawned", exec: sh(showStatus + `; echo "nofile: $(ulimit -n)"`)},
			{
				name: "stubbed", exec: sh(showStatus + `; echo "nofile: $(ulimit -n)"`),
				isolators: types.Isolators{
					isolator(t, "os/linux/seccomp-remove-set", `{"set":["madvise"],"errno":"EPERM"}`),
				},
			},
		},
	}
	p.rc.Debug = true
	p.make(t)
	res := p.run(t, nil)
	if res.code != 0 {
		t.Fatalf("exit code %d: %s", res.code, res.stderr)
	}
	for _, want := range []string{
		`"starting from a confined thread" component=supervisor app=spawned`,
		`"starting through the exec stub" component=supervisor app=stubbed`,
	} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	for _, app := range []string{"spawned", "stubbed"} {
		var lines []string
		for _, l := range strings.Split(res.stdout, "\n") {
			if text, ok := strings.CutPrefix(l, app+"["); ok {
				_, text, _ = strings.Cut(text, "]: ")
				lines = append(lines, text)
			}
		}
		st := statusFields(t, strings.Join(lines, "\n"))
		if st["Seccomp"] != "2" || st["CapEff"] != capHex(caps.Default&bounding(t)) {
			t.Errorf("%s: %v", app, st)
		}
		if !slices.Contains(lines, "nofile: 1024") {
			t.Errorf("%s: open file limit %q, want 1024 (rkt 1.30's, systemd's)", app, lines)
		}
	}
}

// Confined threads end once their process is started: no thread of the
// supervisor, the main one included, is left with an app's filter,
// capabilities or root.
func TestSpawnLeavesNoConfinedThread(t *testing.T) {
	needRoot(t)
	var apps []testApp
	for i := range 6 {
		name := fmt.Sprintf("a%d", i)
		apps = append(apps, testApp{name: name, exec: sh(`: > /up; exec sleep 100`)})
	}
	p := &testPod{apps: apps}
	p.make(t)
	r := p.start(t, nil, nil)
	defer func() {
		r.cmd.Process.Signal(unix.SIGTERM)
		r.wait(t)
	}()
	for _, a := range apps {
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(p.rootfsFile(a.name, "up")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("app %s never got going", a.name)
			}
		}
	}
	pid := r.cmd.Process.Pid
	wantRoot, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid))
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		dir := fmt.Sprintf("/proc/%d/task/%s", pid, task.Name())
		data, err := os.ReadFile(dir + "/status")
		if err != nil {
			continue // ended meanwhile
		}
		st := statusFields(t, string(data))
		root, _ := os.Readlink(dir + "/root")
		if st["Seccomp"] != "0" || st["CapEff"] != capHex(bounding(t)) || root != wantRoot {
			t.Errorf("supervisor thread %s: %v, root %q", task.Name(), st, root)
		}
	}
}
