package stage1cmd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rkt/rkt/common/flock"
)

func TestRunDispatch(t *testing.T) {
	var got []string
	eps := map[string]func([]string) error{
		"stop": func(args []string) error { got = args; return nil },
		"gc":   func([]string) error { return errors.New("boom") },
	}
	tests := []struct {
		argv     []string
		code     int
		wantArgs []string
	}{
		{[]string{"/pod/stage1/rootfs/stop", "--force", "u"}, 0, []string{"--force", "u"}},
		{[]string{"/x/flavor-stage1", "stop", "u"}, 0, []string{"u"}},
		{[]string{"/x/gc", "u"}, ExitFailure, nil},
		{[]string{"/x/flavor-stage1"}, ExitFailure, nil},
		{[]string{"/x/enter"}, ExitFailure, nil},
	}
	for _, tt := range tests {
		got = nil
		if code := run("flavor-stage1", eps, tt.argv); code != tt.code {
			t.Errorf("%v: exit %d, want %d", tt.argv, code, tt.code)
		}
		if len(got) != len(tt.wantArgs) || (len(got) > 0 && got[0] != tt.wantArgs[0]) {
			t.Errorf("%v: entrypoint got %q, want %q", tt.argv, got, tt.wantArgs)
		}
	}
}

func TestReadPidFile(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"ok": "4242\n", "one": "1", "neg": "-1", "junk": "x"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if pid, err := ReadPidFile(filepath.Join(dir, "ok")); err != nil || pid != 4242 {
		t.Errorf("ok: %d, %v", pid, err)
	}
	for _, name := range []string{"one", "neg", "junk"} {
		if pid, err := ReadPidFile(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s: got pid %d, want an error", name, pid)
		}
	}
	if _, err := ReadPidFile(filepath.Join(dir, "missing")); !errors.Is(err, ErrNoPid) {
		t.Errorf("missing: %v, want ErrNoPid", err)
	}
}

// TestWaitPidFile checks the stop entrypoints' wait for a starting pod: the
// pid file written later is read while the pod holds its lock, and a pod
// that no longer holds it is not waited for.
func TestWaitPidFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	lock, err := flock.LockPath(dir, flock.Exclusive, false, false)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		os.WriteFile(filepath.Join(dir, "ppid"), []byte("4242"), 0o644)
	}()
	if pid, err := WaitPidFile("ppid", 10*time.Second); err != nil || pid != 4242 {
		t.Errorf("pid file written while the pod starts: %d, %v; want 4242", pid, err)
	}

	lock.Close()
	start := time.Now()
	if _, err := WaitPidFile("pid", 10*time.Second); !errors.Is(err, ErrNoPid) {
		t.Errorf("pod not locked, no pid file: %v, want ErrNoPid", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waited %v for the pid file of a pod that holds no lock", d)
	}

	lock, err = flock.LockPath(dir, flock.Exclusive, false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	start = time.Now()
	if _, err := WaitPidFile("pid", 300*time.Millisecond); !errors.Is(err, ErrNoPid) {
		t.Errorf("locked pod that never writes its pid file: %v, want ErrNoPid", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("gave up after %v, want the whole 300ms", d)
	}
}

func TestFindTool(t *testing.T) {
	notFound := errors.New("install it")
	if p, err := FindTool("sh", notFound); err != nil || p == "" {
		t.Errorf("sh: %q, %v", p, err)
	}
	t.Setenv("PATH", "")
	if p, err := FindTool("sh", notFound); err != nil || p == "" {
		t.Errorf("sh with an empty PATH: %q, %v (the system directories are searched)", p, err)
	}
	if _, err := FindTool("no-such-tool-anywhere", notFound); !errors.Is(err, notFound) {
		t.Errorf("missing tool: %v, want the given error", err)
	}
}

func TestParsePreambles(t *testing.T) {
	const uuid = "0f5e9ad2-6a3b-4c8e-9d1f-2b7a4e6c8d01"
	dir := t.TempDir()
	t.Chdir(dir)
	ra, pod, err := ParseRun([]string{"--net=host", uuid})
	if err != nil || ra.UUID != uuid || pod != dir {
		t.Errorf("run: %+v %q %v, want the uuid and %q", ra, pod, err, dir)
	}
	if _, _, err := ParseRun([]string{"not-a-uuid"}); err == nil || !strings.HasPrefix(err.Error(), "starting pod: ") {
		t.Errorf("run with a bad uuid: %v", err)
	}
	ga, pod, err := ParseGC([]string{uuid})
	if err != nil || ga.UUID != uuid || pod != dir {
		t.Errorf("gc: %+v %q %v", ga, pod, err)
	}
	if _, _, err := ParseGC([]string{"../x"}); err == nil || !strings.HasPrefix(err.Error(), "collecting pod: ") {
		t.Errorf("gc with a bad uuid: %v", err)
	}
	if sa, err := ParseStop([]string{"--force", uuid}); err != nil || !sa.Force || sa.UUID != uuid {
		t.Errorf("stop: %+v %v", sa, err)
	}
	if _, err := ParseStop([]string{"x"}); err == nil || !strings.HasPrefix(err.Error(), "stopping pod: ") {
		t.Errorf("stop with a bad uuid: %v", err)
	}
	if _, _, err := ParseEnter([]string{"--pid=42", "--appname=a", "--"}); err == nil || !strings.Contains(err.Error(), "no command") {
		t.Errorf("enter without a command: %v", err)
	}
	t.Setenv("PATH", dir)
	ea, nsenter, err := ParseEnter([]string{"--pid=42", "--appname=a", "--", "sh"})
	if want, findErr := FindTool("nsenter", ErrNoNsenter); findErr == nil {
		if err != nil || ea.Pid != 42 || ea.AppName != "a" || nsenter != want {
			t.Errorf("enter: %+v %q %v", ea, nsenter, err)
		}
	} else if !errors.Is(err, ErrNoNsenter) {
		t.Errorf("enter with no nsenter installed: %v, want ErrNoNsenter", err)
	}
}
