package caps

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rkt/rkt/stage1/isolation/seccomp"
	"golang.org/x/sys/unix"
)

// With envSpec set, the test binary is the exec stub: it runs
// PrepareAndExec on the ExecSpec in it instead of the tests.
const envSpec = "RKT_CAPS_TEST_SPEC"

// The main goroutine keeps the main thread, so that the goroutines
// ConfineThread confines run on threads that can end.
func init() { runtime.LockOSThread() }

func TestMain(m *testing.M) {
	if js := os.Getenv(envSpec); js != "" {
		var spec ExecSpec
		if err := json.Unmarshal([]byte(js), &spec); err != nil {
			fmt.Fprintln(os.Stderr, "stub:", err)
			os.Exit(3)
		}
		err := PrepareAndExec(spec)
		fmt.Fprintln(os.Stderr, "stub:", err)
		if errors.Is(err, ErrNotExecutable) {
			os.Exit(4)
		}
		os.Exit(3)
	}
	os.Exit(m.Run())
}

func busybox(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("no busybox to run as the app")
	return ""
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("changing ids and capabilities needs root")
	}
}

// stub runs the exec stub on spec and returns the app's stdout.
func stub(t *testing.T, spec ExecSpec) (string, error) {
	t.Helper()
	js, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envSpec+"="+string(js))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%w: %s", err, stderr.String())
	}
	return string(out), nil
}

// status parses /proc/<pid>/status text.
func status(text string) map[string]string {
	m := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			m[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return m
}

func hex(s Set) string { return fmt.Sprintf("%016x", uint64(s)) }

// hostBounding is the test's own bounding set: an app cannot have more.
func hostBounding(t *testing.T) Set {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseUint(status(string(b))["CapBnd"], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return Set(v)
}

func defaultFilter(t *testing.T, caps Set) []unix.SockFilter {
	t.Helper()
	f, err := seccomp.Compile(seccomp.Profile{Mode: seccomp.ModeDefault, Caps: uint64(caps)})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPrepareAndExecStatus(t *testing.T) {
	requireRoot(t)
	bb := busybox(t)
	host := hostBounding(t)
	cat := []string{bb, "cat", "/proc/self/status"}
	cases := []struct {
		name string
		spec ExecSpec
		want map[string]string
	}{
		{"root, default set, default filter", ExecSpec{Path: bb, Args: cat, Caps: Default, Seccomp: defaultFilter(t, Default)}, map[string]string{
			"CapEff": hex(Default & host), "CapPrm": hex(Default & host), "CapBnd": hex(Default & host),
			"CapInh": hex(0), "CapAmb": hex(0), "NoNewPrivs": "0", "Seccomp": "2", "Uid": "0 0 0 0",
		}},
		{"non-root, default set, default filter", ExecSpec{Path: bb, Args: cat, UID: 1000, GID: 1001, Groups: []int{1002, 1003},
			Caps: Default, Seccomp: defaultFilter(t, 0)}, map[string]string{
			"CapEff": hex(0), "CapPrm": hex(0), "CapBnd": hex(Default & host), "CapInh": hex(0), "CapAmb": hex(0),
			"NoNewPrivs": "0", "Seccomp": "2", "Uid": "1000 1000 1000 1000", "Gid": "1001 1001 1001 1001", "Groups": "1002 1003",
		}},
		{"non-root, no_new_privs", ExecSpec{Path: bb, Args: cat, UID: 1000, GID: 1000, Caps: Default, NoNewPrivileges: true,
			Seccomp: defaultFilter(t, 0)}, map[string]string{
			"CapEff": hex(0), "CapPrm": hex(0), "NoNewPrivs": "1", "Seccomp": "2", "Groups": "",
		}},
		{"root, retain set, no filter", ExecSpec{Path: bb, Args: cat, Caps: Of(NetAdmin, SysTime)}, map[string]string{
			"CapEff": hex(Of(NetAdmin, SysTime)), "CapPrm": hex(Of(NetAdmin, SysTime)), "CapBnd": hex(Of(NetAdmin, SysTime)),
			"NoNewPrivs": "0", "Seccomp": "0",
		}},
		{"root keeping CAP_SYS_ADMIN, filter", ExecSpec{Path: bb, Args: cat, Caps: Default | Of(SysAdmin), Seccomp: defaultFilter(t, Default|Of(SysAdmin))}, map[string]string{
			"CapEff": hex((Default | Of(SysAdmin)) & host), "NoNewPrivs": "0", "Seccomp": "2",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := stub(t, c.spec)
			if err != nil {
				t.Fatal(err)
			}
			st := status(out)
			for k, w := range c.want {
				if st[k] != w {
					t.Errorf("%s: %q, want %q", k, st[k], w)
				}
			}
		})
	}
}

// A capability left out of the set is really gone: chown of a file to
// another owner works with CAP_CHOWN and fails without it.
func TestPrepareAndExecEnforces(t *testing.T) {
	requireRoot(t)
	bb := busybox(t)
	dir := t.TempDir()
	// Let uid 1000 reach the file, so that only chown's check can refuse it.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	chown := []string{bb, "chown", "4321", file}
	if out, err := stub(t, ExecSpec{Path: bb, Args: chown, Caps: Default, Seccomp: defaultFilter(t, Default)}); err != nil {
		t.Fatalf("chown with CAP_CHOWN: %v %s", err, out)
	}
	_, err := stub(t, ExecSpec{Path: bb, Args: chown, Caps: Default &^ Of(Chown), Seccomp: defaultFilter(t, Default&^Of(Chown))})
	if err == nil || !strings.Contains(err.Error(), "Operation not permitted") {
		t.Errorf("chown without CAP_CHOWN: %v, want operation not permitted", err)
	}
	// A non-root app has none, even with the default set.
	_, err = stub(t, ExecSpec{Path: bb, Args: chown, UID: 1000, GID: 1000, Caps: Default})
	if err == nil || !strings.Contains(err.Error(), "Operation not permitted") {
		t.Errorf("chown as uid 1000: %v, want operation not permitted", err)
	}
}

func TestPrepareAndExecRootAndDir(t *testing.T) {
	requireRoot(t)
	bb := busybox(t)
	root := t.TempDir()
	for _, d := range []string{"bin", "srv/app", "marker"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, bb, filepath.Join(root, "bin/busybox"))
	if err := os.Symlink("busybox", filepath.Join(root, "bin/sh")); err != nil {
		t.Fatal(err)
	}
	spec := ExecSpec{Path: "sh", Args: []string{"sh", "-c", "pwd; ls /"}, Env: []string{"PATH=/nowhere:/bin"},
		Root: root, Dir: "/srv/app", UID: 1000, GID: 1000, Caps: Default, NoNewPrivileges: true, Seccomp: defaultFilter(t, 0)}
	out, err := stub(t, spec)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Fields(out); len(lines) != 4 || lines[0] != "/srv/app" || lines[2] != "marker" {
		t.Errorf("pwd; ls / in the app root: %q", out)
	}

	spec.Path = "nosuch"
	_, err = stub(t, spec)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Errorf("missing executable: %v, want ErrNotExecutable naming it", err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestUnavailable(t *testing.T) {
	host := hostBounding(t)
	got, err := Unavailable(All | Of(63))
	if err != nil {
		t.Fatal(err)
	}
	if want := (All | Of(63)) &^ host; got != want {
		t.Errorf("Unavailable(all) = %s, want %s", got, want)
	}
	if got, _ := Unavailable(Default & host); got != 0 {
		t.Errorf("Unavailable(default & bounding) = %s", got)
	}
}

// TestConfineThreadKeepsTheProcess: ConfineThread confines only its own
// thread. The process's working directory, capabilities and filter are
// what they were, and a process forked from the thread gets the
// confinement.
func TestConfineThreadKeepsTheProcess(t *testing.T) {
	requireRoot(t)
	bb := busybox(t)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	spec := ExecSpec{
		Path: bb, Args: []string{bb, "sh", "-c", `pwd; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status`},
		Dir: dir, Caps: Of(Chown), NoNewPrivileges: true, Seccomp: defaultFilter(t, Of(Chown)),
	}
	type result struct {
		pid int
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		path, err := ConfineThread(spec)
		if err != nil {
			done <- result{0, err}
			return
		}
		pid, err := syscall.ForkExec(path, spec.Args, &syscall.ProcAttr{Files: []uintptr{0, out.Fd(), out.Fd()}})
		done <- result{pid, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(r.pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 0 {
		t.Fatalf("the forked process: %v, status %v", err, ws)
	}
	data, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	got := status(string(data))
	if !strings.HasPrefix(string(data), dir+"\n") || got["CapEff"] != hex(Of(Chown)) || got["NoNewPrivs"] != "1" || got["Seccomp"] != "2" {
		t.Errorf("the forked process:\n%s", data)
	}
	if now, _ := os.Getwd(); now != wd {
		t.Errorf("the process's working directory moved to %q", now)
	}
	self, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	if st := status(string(self)); st["Seccomp"] != "0" || st["NoNewPrivs"] != "0" {
		t.Errorf("the test process itself is confined: %v", st)
	}
}
