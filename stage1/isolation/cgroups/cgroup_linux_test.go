package cgroups

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the app in the real-kernel tests: with
// envHelper set it enters the cgroup given in envCgroup (as an exec stub
// would), says so on stdout, waits for a line on stdin, then does what
// envHelper asks.
const (
	envHelper = "RKT_CGROUPS_TEST_HELPER"
	envCgroup = "RKT_CGROUPS_TEST_CGROUP"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envHelper); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

func helper(mode string) int {
	if s := os.Getenv(envCgroup); s != "" {
		c, err := Decode(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		if err := c.Enter(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
	}
	fmt.Println("entered")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil && err != io.EOF {
		return 3
	}
	switch mode {
	case "hog":
		// Touch 256 MiB, one page at a time; a 32 MiB limit must stop it.
		var chunks [][]byte
		for i := 0; i < 256; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			chunks = append(chunks, b)
		}
		fmt.Println("allocated", len(chunks))
		return 0
	case "sleep":
		time.Sleep(time.Hour)
	case "devices":
		// mknod is allowed for any device, opening only for allowed ones.
		dir := os.Getenv("RKT_CGROUPS_TEST_DIR")
		for _, d := range []struct {
			name         string
			major, minor uint32
		}{{"null", 1, 3}, {"kmsg", 1, 11}} {
			p := filepath.Join(dir, d.name)
			if err := syscall.Mknod(p, syscall.S_IFCHR|0o600, int(unix.Mkdev(d.major, d.minor))); err != nil {
				fmt.Printf("%s mknod %v\n", d.name, err)
				continue
			}
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err == nil {
				f.Close()
				fmt.Printf("%s open ok\n", d.name)
			} else {
				fmt.Printf("%s open %v\n", d.name, errors.Unwrap(err))
			}
		}
	}
	return 0
}

func needRoot(t *testing.T) *Hierarchy {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	h, err := Discover()
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	return h
}

// startHelper runs the test binary as an app that enters c itself.
func startHelper(t *testing.T, mode string, c *Cgroup, env ...string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), envHelper+"="+mode, envCgroup+"="+c.Encode()), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	r := bufio.NewReader(stdout)
	line, err := r.ReadString('\n')
	if err != nil || line != "entered\n" {
		t.Fatalf("helper did not enter its cgroup: %q %v", line, err)
	}
	helperOut[cmd] = r
	return cmd, stdin
}

// helperOut keeps each helper's stdout reader for what it prints later.
var helperOut = map[*exec.Cmd]*bufio.Reader{}

// deviceAccess runs the "devices" helper in c and returns what it saw.
func deviceAccess(t *testing.T, c *Cgroup) string {
	t.Helper()
	cmd, stdin := startHelper(t, "devices", c, "RKT_CGROUPS_TEST_DIR="+t.TempDir())
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(helperOut[cmd])
	if err := cmd.Wait(); err != nil {
		t.Fatalf("devices helper: %v\n%s", err, out)
	}
	return string(out)
}

const wantDeviceAccess = "null open ok\nkmsg open operation not permitted\n"

func TestDeviceRules(t *testing.T) {
	h := needRoot(t)
	pod := newPod(t, h)
	app, err := pod.Child("dev")
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Create(Resources{Devices: WithDefaultDevices()}); err != nil {
		t.Fatal(err)
	}
	if got := deviceAccess(t, app); got != wantDeviceAccess {
		t.Fatalf("device access with the default rules:\n%s\nwant:\n%s", got, wantDeviceAccess)
	}
	// Without rules, both open: the check above is the rules' doing.
	free, err := pod.Child("free")
	if err != nil {
		t.Fatal(err)
	}
	if err := free.Create(Resources{}); err != nil {
		t.Fatal(err)
	}
	if got := deviceAccess(t, free); got != "null open ok\nkmsg open ok\n" {
		t.Fatalf("device access without rules:\n%s", got)
	}
}

// TestDeviceFilterBPF attaches the cgroup v2 device program to the v2
// hierarchy of this host (on a hybrid host the v2 hierarchy has no
// controllers, but eBPF device programs apply there all the same).
func TestDeviceFilterBPF(t *testing.T) {
	h := needRoot(t)
	pod := newPod(t, h)
	app, err := pod.Child("bpf")
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Create(Resources{}); err != nil {
		t.Fatal(err)
	}
	d, ok := app.Dirs()[UnifiedKey]
	if !ok {
		t.Skip("no cgroup v2 hierarchy mounted")
	}
	if err := attachDeviceFilter(d, WithDefaultDevices()); err != nil {
		t.Fatal(err)
	}
	if got := deviceAccess(t, app); got != wantDeviceAccess {
		t.Fatalf("device access through the eBPF filter:\n%s\nwant:\n%s", got, wantDeviceAccess)
	}
	// A read-only rule lets reads through and refuses writes.
	ro, err := pod.Child("ro")
	if err != nil {
		t.Fatal(err)
	}
	if err := ro.Create(Resources{}); err != nil {
		t.Fatal(err)
	}
	rules := []Device{{Type: 'c', Major: Any, Minor: Any, Access: "m"}, {Type: 'c', Major: 1, Minor: 3, Access: "r"}}
	if err := attachDeviceFilter(ro.Dirs()[UnifiedKey], rules); err != nil {
		t.Fatal(err)
	}
	if got, want := deviceAccess(t, ro), "null open operation not permitted\nkmsg open operation not permitted\n"; got != want {
		t.Fatalf("O_RDWR with a read-only rule:\n%s\nwant:\n%s", got, want)
	}
}

func readTrim(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func newPod(t *testing.T, h *Hierarchy) *Cgroup {
	t.Helper()
	pod, err := CreatePod(testParent(t, h), uuid.NewString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pod.Destroy(context.Background()) })
	return pod
}

// testParent is where a test's pod cgroups go: the test's own cgroup on v1
// and hybrid hosts; on a cgroup v2 host /rkt.slice, which holds no process
// (the test's own cgroup holds the test, so it could not delegate
// controllers), as stage1 places pods on a v2 host without systemd.
func testParent(t *testing.T, h *Hierarchy) *Cgroup {
	t.Helper()
	if h.Mode() != Unified {
		return h.Self()
	}
	p, err := h.At("/rkt.slice")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Create(Resources{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUnifiedDelegation checks controller delegation on a real cgroup v2
// hierarchy with controllers: Create enables what the limits need in
// every ancestor's cgroup.subtree_control, and refuses, naming the cgroup,
// when an ancestor holds a process (the no-internal-process rule), which
// is why stage1 moves itself into the pod's _stage1 leaf first.
func TestUnifiedDelegation(t *testing.T) {
	h := needRoot(t)
	if h.Mode() != Unified {
		t.Skipf("the host is %v: its cgroup v2 hierarchy has no controllers to delegate (the pure cgroup v2 host runs this)", h.Mode())
	}
	pod := newPod(t, h)
	svc, err := pod.Child("svc")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Create(Resources{}); err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "1000")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	if err := svc.AddProc(sleeper.Process.Pid); err != nil {
		t.Fatal(err)
	}
	app, err := svc.Child("app")
	if err != nil {
		t.Fatal(err)
	}
	res := Resources{MemoryLimit: 1 << 20, CPUMilli: 100}
	err = app.Create(res)
	var ce *ControllerError
	if !errors.As(err, &ce) || !errors.Is(err, ErrInternalProcesses) || ce.Dir != svc.Dirs()[UnifiedKey] {
		t.Fatalf("Create below a cgroup holding a process = %v, want ErrInternalProcesses for %s", err, svc.Dirs()[UnifiedKey])
	}
	// Out of svc into a leaf of its own: svc can now delegate.
	leaf, err := svc.Child("leaf")
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.Create(Resources{}); err != nil {
		t.Fatal(err)
	}
	if err := leaf.AddProc(sleeper.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := app.Create(res); err != nil {
		t.Fatal(err)
	}
	sub := readTrim(t, filepath.Join(svc.Dirs()[UnifiedKey], "cgroup.subtree_control"))
	for _, c := range []string{"cpu", "memory"} {
		if !hasWord(sub, c) {
			t.Errorf("%s/cgroup.subtree_control = %q, lacks %s", svc, sub, c)
		}
	}
	for f, want := range map[string]string{"memory.max": "1048576", "cpu.max": "10000 100000"} {
		if got := readTrim(t, filepath.Join(app.Dirs()[UnifiedKey], f)); got != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
}

func TestPodAndAppCgroups(t *testing.T) {
	h := needRoot(t)
	pod := newPod(t, h)
	app, err := pod.Child("web")
	if err != nil {
		t.Fatal(err)
	}
	res := Resources{MemoryLimit: 48 << 20, CPUMilli: 250, CPUShares: 512, PidsLimit: 64, Devices: WithDefaultDevices()}
	if err := app.Create(res); err != nil {
		t.Fatal(err)
	}
	dirs := app.Dirs()
	for _, d := range pod.Dirs() {
		if _, err := os.Stat(filepath.Join(d, Stage1Leaf)); err != nil {
			t.Errorf("stage1 leaf missing: %v", err)
		}
	}
	switch h.Mode() {
	case Unified:
		d := dirs[UnifiedKey]
		for f, want := range map[string]string{
			"memory.max": "50331648", "cpu.max": "25000 100000",
			"cpu.weight": strconv.FormatUint(SharesToWeight(512), 10), "pids.max": "64",
		} {
			if got := readTrim(t, filepath.Join(d, f)); got != want {
				t.Errorf("%s = %q, want %q", f, got, want)
			}
		}
	default:
		m, _ := h.limitMount("memory")
		c, _ := h.limitMount("cpu")
		p, _ := h.limitMount("pids")
		dv, _ := h.limitMount("devices")
		for f, want := range map[string]string{
			filepath.Join(dirs[m.key], "memory.limit_in_bytes"): "50331648",
			filepath.Join(dirs[c.key], "cpu.cfs_quota_us"):      "25000",
			filepath.Join(dirs[c.key], "cpu.cfs_period_us"):     "100000",
			filepath.Join(dirs[c.key], "cpu.shares"):            "512",
			filepath.Join(dirs[p.key], "pids.max"):              "64",
		} {
			if got := readTrim(t, f); got != want {
				t.Errorf("%s = %q, want %q", f, got, want)
			}
		}
		list := readTrim(t, filepath.Join(dirs[dv.key], "devices.list"))
		for _, d := range DefaultDevices {
			if !strings.Contains(list, d.String()) {
				t.Errorf("devices.list lacks %q:\n%s", d, list)
			}
		}
		if strings.Contains(list, "a *:* rwm") {
			t.Errorf("devices.list still allows everything:\n%s", list)
		}
	}

	// A sleeping app moved in by pid (the supervisor's way) and one that
	// entered by itself (the exec stub's way).
	sleeper := exec.Command("sleep", "1000")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	if err := app.AddProc(sleeper.Process.Pid); err != nil {
		t.Fatal(err)
	}
	stub, _ := startHelper(t, "sleep", app)
	cg := readTrim(t, fmt.Sprintf("/proc/%d/cgroup", sleeper.Process.Pid))
	for k := range dirs {
		if !strings.Contains(cg, app.Path(k)) {
			t.Errorf("/proc/<pid>/cgroup does not show %s in %s:\n%s", app.Path(k), k, cg)
		}
	}
	procs, err := app.Procs()
	if err != nil {
		t.Fatal(err)
	}
	if !containsAll(procs, sleeper.Process.Pid, stub.Process.Pid) {
		t.Fatalf("Procs = %v, want %d and %d", procs, sleeper.Process.Pid, stub.Process.Pid)
	}

	if err := SetOOMScoreAdj(sleeper.Process.Pid, 777); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, fmt.Sprintf("/proc/%d/oom_score_adj", sleeper.Process.Pid)); got != "777" {
		t.Errorf("oom_score_adj = %s, want 777", got)
	}
	if err := SetOOMScoreAdj(0, 2000); !errors.Is(err, ErrInvalidResources) {
		t.Errorf("out of range: %v", err)
	}

	// Teardown from a record, as stage1 gc does in another process.
	rec := filepath.Join(t.TempDir(), "cgroup")
	if err := pod.Save(rec); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := loaded.Destroy(context.Background()); err != nil {
		t.Fatal(err)
	}
	err = sleeper.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("sleeper ended with %v, want killed", err)
	}
	for k, d := range pod.Dirs() {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s pod cgroup %s remains: %v", k, d, err)
		}
	}
	// Idempotent.
	if err := loaded.Destroy(context.Background()); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
}

func containsAll(have []int, want ...int) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

func TestMemoryLimitKillsHog(t *testing.T) {
	h := needRoot(t)
	pod := newPod(t, h)
	app, err := pod.Child("hog")
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Create(Resources{MemoryLimit: 32 << 20}); err != nil {
		t.Fatal(err)
	}
	cmd, stdin := startHelper(t, "hog", app)
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("hog ended with %v, want killed by the OOM killer", err)
	}
	// The kernel's own count says it was the cgroup's OOM killer.
	var events string
	if h.Mode() == Unified {
		events = readTrim(t, filepath.Join(app.Dirs()[UnifiedKey], "memory.events"))
	} else {
		m, _ := h.limitMount("memory")
		events = readTrim(t, filepath.Join(app.Dirs()[m.key], "memory.oom_control"))
	}
	if !strings.Contains(events, "oom_kill 1") {
		t.Errorf("no oom kill recorded:\n%s", events)
	}
}

func TestDestroyKillsForkingTree(t *testing.T) {
	h := needRoot(t)
	pod := newPod(t, h)
	app, err := pod.Child("shell")
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Create(Resources{}); err != nil {
		t.Fatal(err)
	}
	nested, err := app.Child("nested")
	if err != nil {
		t.Fatal(err)
	}
	if err := nested.Create(Resources{}); err != nil {
		t.Fatal(err)
	}
	// A shell that keeps forking sleepers, in a nested cgroup.
	sh := exec.Command("sh", "-c", "while :; do sleep 100 & sleep 0.01; done")
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = sh.Wait() }()
	if err := nested.AddProc(sh.Process.Pid); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pod.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	for k, d := range pod.Dirs() {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %s remains", k, d)
		}
	}
	if err := syscall.Kill(sh.Process.Pid, 0); err == nil {
		// The shell may linger as our unreaped zombie for a moment.
		st := readTrim(t, fmt.Sprintf("/proc/%d/stat", sh.Process.Pid))
		if !strings.Contains(st, ") Z ") {
			t.Errorf("shell still alive: %s", st)
		}
	}
}

func TestLoadRefusesNonCgroupRecords(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "rkt-victim")
	if err := os.Mkdir(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	// A cgroup.procs-looking file outside cgroupfs naming our own pid.
	if err := os.WriteFile(filepath.Join(victim, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(dir, "rec")
	for _, body := range []string{
		`{"dirs":{"memory":"` + victim + `"}}`,
		`{"dirs":{"memory":"/sys/fs/cgroup/memory"}}`,
		`{"dirs":{"memory":"relative/rkt-x"}}`,
		`{"dirs":{}}`,
		`not json`,
	} {
		if err := os.WriteFile(rec, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(rec); err == nil {
			t.Errorf("Load(%s) accepted", body)
		}
	}
	// A missing pod cgroup is fine: gc after teardown.
	gone := `{"dirs":{"memory":"/sys/fs/cgroup/memory/rkt-` + uuid.NewString() + `"}}`
	if err := os.WriteFile(rec, []byte(gone), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Destroy(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestDeviceFilterLoadUnderSignals loads the device program while the
// process's threads are flooded with SIGURG, the signal the Go runtime
// preempts with: the verifier gives up with EAGAIN when a signal is
// pending, and the load must be retried rather than fail the pod's start.
func TestDeviceFilterLoadUnderSignals(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading a BPF program needs root")
	}
	prog, err := deviceProgram(WithDefaultDevices())
	if err != nil {
		t.Fatal(err)
	}
	code := make([]byte, 8*len(prog))
	for i, in := range prog {
		in.encode(code[8*i:])
	}
	license := []byte("Apache-2.0\x00")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		pid := os.Getpid()
		for {
			select {
			case <-stop:
				return
			default:
			}
			tasks, _ := os.ReadDir("/proc/self/task")
			for _, task := range tasks {
				if tid, err := strconv.Atoi(task.Name()); err == nil {
					unix.Tgkill(pid, tid, unix.SIGURG)
				}
			}
		}
	}()
	defer func() { close(stop); <-done }()
	for i := range 300 {
		fd, err := loadProgram(code, len(prog), license, nil)
		if err != nil {
			t.Fatalf("load %d under signals: %v", i, err)
		}
		unix.Close(int(fd))
	}
}
