package pod

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/common/podlayout"
)

const nsEnv = "RKT_POD_TEST_PRIVATE_MOUNTS"

// TestMain re-runs the tests, as root, in a private mount namespace so that
// the mounts they make never leak into the host's.
func TestMain(m *testing.M) {
	if os.Getuid() == 0 && os.Getenv(nsEnv) == "" {
		if unshare, err := exec.LookPath("unshare"); err == nil {
			cmd := exec.Command(unshare, append([]string{"-m", "--propagation", "private", os.Args[0]}, os.Args[1:]...)...)
			cmd.Env = append(os.Environ(), nsEnv+"=1")
			cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
			if err := cmd.Run(); err != nil {
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					os.Exit(ee.ExitCode())
				}
				fmt.Fprintln(os.Stderr, "running tests in a private mount namespace:", err)
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	os.Exit(m.Run())
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 || os.Getenv(nsEnv) == "" {
		t.Skip("needs root and a private mount namespace (unshare) to make mounts")
	}
}

// preparedPod creates a pod in dataDir and marks it prepared.
func preparedPod(t *testing.T, dataDir string) *Pod {
	t.Helper()
	p, err := Create(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Prepared(); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustGet(t *testing.T, dataDir, id string) *Pod {
	t.Helper()
	p, err := Get(dataDir, id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return p
}

func wantState(t *testing.T, dataDir, id string, want State) {
	t.Helper()
	if got := mustGet(t, dataDir, id).State; got != want {
		t.Fatalf("pod %s: state %q, want %q", id, got, want)
	}
}

// holdLock starts a child process that inherits the pod lock descriptor, as
// stage1 does through RKT_LOCK_FD, and sleeps. Killing it releases the lock.
func holdLock(t *testing.T, fd uintptr) *exec.Cmd {
	t.Helper()
	dup, err := unix.Dup(int(fd))
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(dup), "lock")
	defer f.Close()
	cmd := exec.Command("sleep", "1000")
	cmd.ExtraFiles = []*os.File{f}
	cmd.Env = []string{"RKT_LOCK_FD=3"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func stopHolder(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Process.Kill()
	cmd.Wait()
}

// runningPod makes a pod, runs it with the lock handed to a child process
// and closed here. It returns the pod and the child.
func runningPod(t *testing.T, dataDir string) (*Pod, *exec.Cmd) {
	t.Helper()
	p, err := Create(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := p.Run()
	if err != nil {
		t.Fatal(err)
	}
	child := holdLock(t, fd)
	p.Close()
	return p, child
}

func TestLifecycle(t *testing.T) {
	dataDir := t.TempDir()
	p, err := Create(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := podlayout.ValidUUID(p.UUID); err != nil {
		t.Fatal(err)
	}
	if p.Path != filepath.Join(dataDir, "pods", "prepare", p.UUID) {
		t.Fatalf("new pod at %s", p.Path)
	}
	if _, err := os.Stat(filepath.Join(p.Path, podlayout.PodCreatedFile)); err != nil {
		t.Fatalf("pod-created: %v", err)
	}
	wantState(t, dataDir, p.UUID, Preparing)

	if err := p.Prepared(); err != nil {
		t.Fatal(err)
	}
	wantState(t, dataDir, p.UUID, Prepared)
	if _, err := os.Stat(filepath.Join(dataDir, "pods", "prepared", p.UUID)); err != nil {
		t.Fatal(err)
	}

	// run-prepared from another "process": a fresh load.
	q := mustGet(t, dataDir, p.UUID[:8])
	fd, err := q.Run()
	if err != nil {
		t.Fatal(err)
	}
	flags, err := unix.FcntlInt(fd, unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC != 0 {
		t.Fatalf("lock fd flags %#x, %v: want close-on-exec cleared", flags, err)
	}
	if q.Path != filepath.Join(dataDir, "pods", "run", p.UUID) {
		t.Fatalf("running pod at %s", q.Path)
	}
	child := holdLock(t, fd)
	q.Close()
	wantState(t, dataDir, p.UUID, Running) // the child's lock alone keeps it running

	stopHolder(t, child)
	wantState(t, dataDir, p.UUID, Exited)

	var gcCalls []string
	opts := GCOptions{
		GracePeriod: time.Hour, ExpirePrepared: time.Hour,
		Stage1GC: func(ctx context.Context, p *Pod) error { gcCalls = append(gcCalls, p.Path); return nil },
	}
	opts.MarkOnly = true
	res, err := GC(context.Background(), dataDir, opts)
	if err != nil || len(res.Marked) != 1 || res.Marked[0] != p.UUID || len(res.Removed) != 0 {
		t.Fatalf("gc --mark-only: %+v, %v", res, err)
	}
	wantState(t, dataDir, p.UUID, ExitedGarbage)

	opts.MarkOnly = false
	res, err = GC(context.Background(), dataDir, opts)
	if err != nil || len(res.Removed) != 0 {
		t.Fatalf("gc within the grace period removed %v (%v)", res.Removed, err)
	}
	wantState(t, dataDir, p.UUID, ExitedGarbage)

	opts.GracePeriod = 0
	res, err = GC(context.Background(), dataDir, opts)
	if err != nil || len(res.Removed) != 1 {
		t.Fatalf("gc after the grace period: %+v, %v", res, err)
	}
	if len(gcCalls) != 1 || gcCalls[0] != filepath.Join(dataDir, "pods", "exited-garbage", p.UUID) {
		t.Fatalf("stage1 gc calls: %q", gcCalls)
	}
	if _, err := Get(dataDir, p.UUID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed pod: %v", err)
	}
	for _, d := range stateDirs {
		if ents, _ := os.ReadDir(filepath.Join(dataDir, "pods", d)); len(ents) != 0 {
			t.Errorf("pods/%s not empty: %v", d, ents)
		}
	}
}

func TestRunStraightFromPrepare(t *testing.T) {
	dataDir := t.TempDir()
	p, child := runningPod(t, dataDir)
	wantState(t, dataDir, p.UUID, Running)
	// gc never touches a running pod
	res, err := GC(context.Background(), dataDir, GCOptions{})
	if err != nil || len(res.Marked)+len(res.Removed)+len(res.Discarded) != 0 {
		t.Fatalf("gc on a running pod: %+v, %v", res, err)
	}
	wantState(t, dataDir, p.UUID, Running)
	stopHolder(t, child)
	wantState(t, dataDir, p.UUID, Exited)
}

func TestRunPreparedLockedElsewhere(t *testing.T) {
	dataDir := t.TempDir()
	p := preparedPod(t, dataDir)
	other, err := flock.LockPath(p.Path, flock.Exclusive, false, false)
	if err != nil {
		t.Fatal(err)
	}
	q := mustGet(t, dataDir, p.UUID)
	if _, err := q.Run(); !errors.Is(err, ErrLocked) {
		t.Fatalf("Run of a pod locked elsewhere: %v", err)
	}
	other.Close()
	wantState(t, dataDir, p.UUID, Prepared)
	// a transition from the wrong state is refused
	if err := q.Prepared(); err == nil {
		t.Fatal("Prepared on a prepared pod accepted")
	}
}

func TestAbortAndAbortedPrepare(t *testing.T) {
	dataDir := t.TempDir()
	failed, err := Create(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := failed.Abort(); err != nil {
		t.Fatal(err)
	}
	wantState(t, dataDir, failed.UUID, Garbage)

	crashed, err := Create(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	crashed.Close() // the preparing process died
	wantState(t, dataDir, crashed.UUID, AbortedPrepare)

	preparing, err := Create(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer preparing.Close()

	res, err := GC(context.Background(), dataDir, GCOptions{GracePeriod: time.Hour, ExpirePrepared: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Discarded, ",") != crashed.UUID {
		t.Errorf("discarded %v, want the aborted prepare %s", res.Discarded, crashed.UUID)
	}
	if len(res.Removed) != 2 {
		t.Errorf("removed %v, want the failed and the aborted prepare", res.Removed)
	}
	wantState(t, dataDir, preparing.UUID, Preparing)
}

func TestExpirePrepared(t *testing.T) {
	dataDir := t.TempDir()
	p := preparedPod(t, dataDir)
	res, err := GC(context.Background(), dataDir, GCOptions{ExpirePrepared: time.Hour})
	if err != nil || len(res.Discarded) != 0 {
		t.Fatalf("fresh prepared pod discarded: %+v %v", res, err)
	}
	wantState(t, dataDir, p.UUID, Prepared)
	time.Sleep(20 * time.Millisecond)
	res, err = GC(context.Background(), dataDir, GCOptions{ExpirePrepared: 10 * time.Millisecond, MarkOnly: true})
	if err != nil || len(res.Discarded) != 1 {
		t.Fatalf("expired prepared pod kept: %+v %v", res, err)
	}
	wantState(t, dataDir, p.UUID, Garbage)
}

func TestGetByPrefix(t *testing.T) {
	dataDir := t.TempDir()
	if err := ensureDirs(dataDir); err != nil {
		t.Fatal(err)
	}
	ids := []string{
		"aaaaaaaa-0000-4000-8000-000000000001",
		"aaaaaaab-0000-4000-8000-000000000002",
		"bbbbbbbb-0000-4000-8000-000000000003",
	}
	for i, id := range ids {
		if err := os.Mkdir(podPath(dataDir, []string{RunDir, PreparedDir, GarbageDir}[i], id), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(podPath(dataDir, RunDir, "not-a-uuid"), 0o750)
	tests := []struct {
		in      string
		want    string
		wantErr error
	}{
		{ids[0], ids[0], nil},
		{"aaaaaaaa", ids[0], nil},
		{"AAAAAAAB", ids[1], nil},
		{"b", ids[2], nil},
		{"aaaaaaa", "", ErrAmbiguous},
		{"c", "", ErrNotFound},
		{"", "", ErrInvalidUUID},
		{"../run", "", ErrInvalidUUID},
		{"not-a", "", ErrInvalidUUID},
	}
	for _, tt := range tests {
		p, err := Get(dataDir, tt.in)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Get(%q) = %v, want %v", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || p.UUID != tt.want {
			t.Errorf("Get(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
		}
	}
	if p := mustGet(t, dataDir, "b"); p.State != Garbage {
		t.Errorf("state %s", p.State)
	}
}

func TestListSortedByCreation(t *testing.T) {
	dataDir := t.TempDir()
	base := time.Now().Add(-time.Hour)
	var want []string
	offsets := []int{3, 1, 2}
	byOffset := map[int]string{}
	for _, off := range offsets {
		p, err := Create(dataDir)
		if err != nil {
			t.Fatal(err)
		}
		ts := base.Add(time.Duration(off) * time.Minute)
		if err := os.Chtimes(filepath.Join(p.Path, podlayout.PodCreatedFile), ts, ts); err != nil {
			t.Fatal(err)
		}
		if off != 2 {
			p.Prepared()
		} else {
			defer p.Close()
		}
		byOffset[off] = p.UUID
	}
	for off := 1; off <= 3; off++ {
		want = append(want, byOffset[off])
	}
	pods, err := List(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pods {
		got = append(got, p.UUID)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("List order %v, want %v", got, want)
	}
	if pods[1].State != Preparing || pods[0].State != Prepared {
		t.Errorf("states %s %s", pods[0].State, pods[1].State)
	}
	if empty, err := List(t.TempDir()); err != nil || len(empty) != 0 {
		t.Errorf("List of an empty data dir: %v, %v", empty, err)
	}
}

const testManifest = `{"acKind":"PodManifest","acVersion":"0.8.11","apps":[
 {"name":"web","image":{"name":"example.com/web","id":"sha512-` + hex128 + `"}},
 {"name":"side","image":{"name":"example.com/side","id":"sha512-` + hex128 + `"}}],
 "volumes":null,"isolators":null,"annotations":null,"ports":null}`

const hex128 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestInfoAndPid(t *testing.T) {
	dataDir := t.TempDir()
	p, child := runningPod(t, dataDir)
	defer stopHolder(t, child)
	if err := os.WriteFile(podlayout.PodManifest(p.Path), []byte(testManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Pid(); !errors.Is(err, ErrNoPid) {
		t.Fatalf("Pid before stage1 wrote anything: %v", err)
	}
	// ppid: a process whose only child is the pod's "PID 1", in a PID
	// namespace of its own, as nspawn's is.
	sh := exec.Command("unshare", "--pid", "--fork", "sleep", "1000")
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sh.Process.Kill(); sh.Wait() }()
	if err := os.WriteFile(filepath.Join(p.Path, podlayout.PpidFile), []byte(fmt.Sprint(sh.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	// Wait for the child to exist in its namespace and to have exec'd
	// sleep (between fork and exec it is still called unshare).
	var pid int
	var comm []byte
	deadline := time.Now().Add(5 * time.Second)
	for {
		var err error
		pid, err = p.Pid()
		if err == nil {
			comm, _ = os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if strings.TrimSpace(string(comm)) == "sleep" {
				break
			}
		} else if !errors.Is(err, ErrNoPid) {
			t.Fatalf("Pid: %v", err)
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.TrimSpace(string(comm)) != "sleep" || pid == sh.Process.Pid {
		t.Fatalf("Pid = %d (%s), want the sleep child in its own namespace", pid, comm)
	}

	if err := os.MkdirAll(podlayout.StatusDir(p.Path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := podlayout.WriteAppStatus(podlayout.AppStatusPath(p.Path, "side"), 3); err != nil {
		t.Fatal(err)
	}
	in, err := p.Info()
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(p.Path, podlayout.PpidFile))
	if in.State != Running || in.Pid != pid || !in.Started.Equal(fi.ModTime()) || in.Created.IsZero() {
		t.Errorf("info %+v", in)
	}
	if len(in.Apps) != 2 || in.Apps[0].Name != "web" || in.Apps[0].ImageName != "example.com/web" ||
		in.Apps[0].ImageID != "sha512-"+hex128 || in.Apps[0].ExitCode != nil ||
		in.Apps[1].ExitCode == nil || *in.Apps[1].ExitCode != 3 {
		t.Errorf("apps %+v", in.Apps)
	}
	if len(in.AppExit) != 1 || in.AppExit["side"] != 3 {
		t.Errorf("app exit codes %v", in.AppExit)
	}

	// a pid file (fly) wins over ppid
	if err := os.WriteFile(filepath.Join(p.Path, podlayout.PidFile), []byte("4242\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := p.Pid(); err != nil || got != 4242 {
		t.Errorf("Pid with a pid file: %d, %v", got, err)
	}

	stopHolder(t, child)
	in, err = p.Info()
	if err != nil || in.State != Exited || in.Pid != 0 {
		t.Errorf("exited pod info: %+v, %v", in, err)
	}
	m, raw, err := p.Manifest()
	if err != nil || len(m.Apps) != 2 || string(raw) != testManifest {
		t.Errorf("Manifest: %v", err)
	}
}

func TestWaitReadyAndExited(t *testing.T) {
	dataDir := t.TempDir()
	p, child := runningPod(t, dataDir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	if err := p.WaitReady(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady before ready: %v", err)
	}
	cancelShort()

	ready := make(chan error, 1)
	go func() { ready <- p.WaitReady(ctx) }()
	time.Sleep(100 * time.Millisecond)
	os.MkdirAll(filepath.Dir(podlayout.SupervisorStatusPath(p.Path)), 0o755)
	if err := os.Symlink(podlayout.SupervisorReady, podlayout.SupervisorStatusPath(p.Path)); err != nil {
		t.Fatal(err)
	}
	if err := <-ready; err != nil {
		t.Fatalf("WaitReady: %v", err)
	}

	exited := make(chan error, 1)
	q := mustGet(t, dataDir, p.UUID)
	go func() { exited <- q.WaitExited(ctx) }()
	select {
	case err := <-exited:
		t.Fatalf("WaitExited returned while running: %v", err)
	case <-time.After(150 * time.Millisecond):
	}
	stopHolder(t, child)
	if err := <-exited; err != nil {
		t.Fatalf("WaitExited: %v", err)
	}
	if err := mustGet(t, dataDir, p.UUID).WaitReady(ctx); !errors.Is(err, ErrExitedBeforeReady) {
		t.Fatalf("WaitReady on an exited pod: %v", err)
	}
}

func TestRemove(t *testing.T) {
	dataDir := t.TempDir()
	p, child := runningPod(t, dataDir)
	q := mustGet(t, dataDir, p.UUID)
	calls := 0
	opts := GCOptions{Stage1GC: func(context.Context, *Pod) error { calls++; return errors.New("stage1 gc broke") }}
	err := q.Remove(context.Background(), opts)
	var se *StateError
	if !errors.Is(err, ErrRunning) || !errors.As(err, &se) || err.Error() != fmt.Sprintf("pod %q is currently running", p.UUID) {
		t.Fatalf("rm of a running pod: %v", err)
	}
	wantState(t, dataDir, p.UUID, Running)

	stopHolder(t, child)
	q = mustGet(t, dataDir, p.UUID)
	if err := q.Remove(context.Background(), opts); err != nil {
		t.Fatalf("rm of an exited pod: %v", err)
	}
	if calls != 1 {
		t.Errorf("stage1 gc ran %d times, want 1 (its failure does not stop rm)", calls)
	}
	if _, err := Get(dataDir, p.UUID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pod after rm: %v", err)
	}

	// a prepared pod is removed too (rkt's rm), without stage1 gc
	r, err := Create(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	r.Prepared()
	if err := mustGet(t, dataDir, r.UUID).Remove(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("stage1 gc ran for a pod that never ran")
	}
	// a pod being prepared is refused
	s, err := Create(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := mustGet(t, dataDir, s.UUID).Remove(context.Background(), opts); err == nil ||
		!strings.Contains(err.Error(), "is currently being prepared") {
		t.Fatalf("rm of a preparing pod: %v", err)
	}
}

func TestInfoNetworks(t *testing.T) {
	dataDir := t.TempDir()
	p, child := runningPod(t, dataDir)
	defer stopHolder(t, child)
	in, err := p.Info()
	if err != nil || len(in.Networks) != 0 {
		t.Fatalf("pod without net-info.json: networks %+v, %v", in.Networks, err)
	}
	// As the stage1 writes it: rkt's keys, and the extra ones the reader ignores here.
	netInfo := `[{"netName":"default","ifName":"eth0","ip":"172.16.28.2","mask":"255.255.255.0","args":"",
	  "gateway":"172.16.28.1","containerID":"x"},
	  {"netName":"lan","ifName":"eth1","args":"IP=10.1.1.9"}]`
	path := filepath.Join(p.Path, podlayout.NetInfoFile)
	if err := os.WriteFile(path, []byte(netInfo), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err = p.Info()
	want := []NetInfo{{Name: "default", IfName: "eth0", IP: "172.16.28.2", Mask: "255.255.255.0"}, {Name: "lan", IfName: "eth1", Args: "IP=10.1.1.9"}}
	if err != nil || !reflect.DeepEqual(in.Networks, want) {
		t.Errorf("networks = %+v, %v; want %+v", in.Networks, err, want)
	}
	// A damaged file hides the networks, not the pod.
	if err := os.WriteFile(path, []byte("[{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if in, err = p.Info(); err != nil || len(in.Networks) != 0 || in.State != Running {
		t.Errorf("damaged net-info.json: %+v, %v", in, err)
	}
}

// TestPidSkipsStartingHelper checks that a child of the ppid process in the
// ppid's own PID namespace (nspawn's helper while it starts) is not taken
// for the pod's PID 1.
func TestPidSkipsStartingHelper(t *testing.T) {
	dataDir := t.TempDir()
	p, child := runningPod(t, dataDir)
	defer stopHolder(t, child)
	shellAsPpid(t, p, "sleep 1000; true", func(kids []int) bool { return len(kids) == 1 })
	if pid, err := p.Pid(); !errors.Is(err, ErrNoPid) {
		t.Fatalf("Pid with only a same-namespace child = %d, %v; want ErrNoPid", pid, err)
	}
}

// shellAsPpid starts `sh -c script` in a process group of its own, names it
// the ppid of pod p, and waits (5 s at most) until ready holds for its
// children. The whole group is killed when the test ends.
func shellAsPpid(t *testing.T, p *Pod, script string, ready func(kids []int) bool) {
	t.Helper()
	sh := exec.Command("sh", "-c", script)
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-sh.Process.Pid, syscall.SIGKILL)
		sh.Wait()
	})
	if err := os.WriteFile(filepath.Join(p.Path, podlayout.PpidFile), []byte(fmt.Sprint(sh.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		kids, err := children(sh.Process.Pid)
		if err == nil && ready(kids) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the children of %q never became ready: %v %v", script, kids, err)
		}
	}
}

// TestStateAfterRun: the states of a pod that was started, as rkt's
// IsAfterRun named them; status prints pid and exit codes for these only.
func TestStateAfterRun(t *testing.T) {
	for s, want := range map[State]bool{
		Embryo: false, Preparing: false, AbortedPrepare: false, Prepared: false, Garbage: false,
		Running: true, Deleting: true, ExitedDeleting: true, Exited: true, ExitedGarbage: true,
	} {
		if got := s.AfterRun(); got != want {
			t.Errorf("%q.AfterRun() = %v, want %v", s, got, want)
		}
	}
}

// TestPidSkipsExitedChild checks that a child of the ppid process that has
// exited and is not yet reaped (nspawn's first child, once it has started
// the pod's PID 1) is neither taken for the pod nor makes Pid fail: the
// caller is told to wait.
func TestPidSkipsExitedChild(t *testing.T) {
	for name, script := range map[string]string{
		"zombie only":          "(exit 0) & exec sleep 1000",
		"zombie beside helper": "(exit 0) & sleep 1000 & exec sleep 1000",
	} {
		t.Run(name, func(t *testing.T) {
			dataDir := t.TempDir()
			p, child := runningPod(t, dataDir)
			defer stopHolder(t, child)
			shellAsPpid(t, p, script, func(kids []int) bool {
				return len(slices.DeleteFunc(slices.Clone(kids), exited)) < len(kids)
			})
			if pid, err := p.Pid(); !errors.Is(err, ErrNoPid) {
				t.Fatalf("Pid with an exited child = %d, %v; want ErrNoPid", pid, err)
			}
		})
	}
}

// TestSamePidNSOfReapedProcess: a child that is gone by the time its
// namespace is read (nspawn reaps its first child right after it started
// the pod) is an error, so that Pid waits, not a "different namespace"
// that would take it for the pod's PID 1.
func TestSamePidNSOfReapedProcess(t *testing.T) {
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	if same, err := samePidNS(os.Getpid(), c.Process.Pid); err == nil {
		t.Fatalf("samePidNS with a reaped process = %v, nil; want an error", same)
	}
	if same, err := samePidNS(os.Getpid(), os.Getpid()); err != nil || !same {
		t.Fatalf("samePidNS(self, self) = %v, %v; want true", same, err)
	}
}
