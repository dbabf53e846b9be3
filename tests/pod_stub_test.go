package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rkt/rkt/store/storetest"
)

// stubStage1Source is a stage1 whose every entrypoint records what stage0
// handed it (arguments, environment, working directory, the state of
// RKT_LOCK_FD, the pod directory's files) as JSON in a log directory, then
// exits with a chosen code. It tests stage0's side of the stage1 contract
// without nspawn. Its configuration is /stub.json in its own rootfs:
// {"exit": N, "log": DIR}. The gc entrypoint exits with the code in
// DIR/gc-exit while that file exists, and 0 otherwise.
const stubStage1Source = `package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

type config struct {
	Exit int    ` + "`json:\"exit\"`" + `
	Log  string ` + "`json:\"log\"`" + `
}

type lockState struct {
	Env       string ` + "`json:\"env\"`" + `
	Valid     bool   ` + "`json:\"valid\"`" + `
	SameAsCwd bool   ` + "`json:\"sameAsCwd\"`" + `
	Held      bool   ` + "`json:\"held\"`" + `
	CloExec   bool   ` + "`json:\"cloexec\"`" + `
}

type record struct {
	Entry string            ` + "`json:\"entry\"`" + `
	Args  []string          ` + "`json:\"args\"`" + `
	Env   []string          ` + "`json:\"env\"`" + `
	Cwd   string            ` + "`json:\"cwd\"`" + `
	Lock  lockState         ` + "`json:\"lock\"`" + `
	Files map[string]bool   ` + "`json:\"files\"`" + `
	Apps  []string          ` + "`json:\"apps\"`" + `
}

func main() {
	exe, err := os.Executable()
	if err != nil {
		fail(err)
	}
	var cfg config
	b, err := os.ReadFile(filepath.Join(filepath.Dir(exe), "stub.json"))
	if err != nil {
		fail(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		fail(err)
	}
	r := record{Entry: filepath.Base(os.Args[0]), Args: os.Args[1:], Env: os.Environ(), Files: map[string]bool{}}
	r.Cwd, _ = os.Getwd()
	r.Lock = checkLock()
	for _, f := range []string{"pod", "runtime-config", "pod-created", "stage1/manifest", "stage1TreeStoreID", "overlay-prepared"} {
		_, err := os.Stat(f)
		r.Files[f] = err == nil
	}
	des, _ := os.ReadDir("stage1/rootfs/opt/stage2")
	for _, d := range des {
		_, err := os.Stat(filepath.Join("stage1/rootfs/opt/stage2", d.Name(), "rootfs/bin/busybox"))
		if err == nil {
			r.Apps = append(r.Apps, d.Name())
		}
	}
	out, _ := json.Marshal(r)
	name := fmt.Sprintf("%s-%d.json", r.Entry, time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(cfg.Log, name), out, 0o644); err != nil {
		fail(err)
	}
	if r.Entry == "init" || r.Entry == "run" {
		os.Exit(cfg.Exit)
	}
	if r.Entry == "gc" {
		if b, err := os.ReadFile(filepath.Join(cfg.Log, "gc-exit")); err == nil {
			code, err := strconv.Atoi(string(b))
			if err != nil {
				fail(err)
			}
			os.Exit(code)
		}
	}
}

func checkLock() lockState {
	s := lockState{Env: os.Getenv("RKT_LOCK_FD")}
	fd, err := strconv.Atoi(s.Env)
	if err != nil {
		return s
	}
	var st, cwd syscall.Stat_t
	if syscall.Fstat(fd, &st) != nil {
		return s
	}
	s.Valid = true
	if syscall.Stat(".", &cwd) == nil {
		s.SameAsCwd = st.Dev == cwd.Dev && st.Ino == cwd.Ino
	}
	flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	s.CloExec = errno == 0 && flags&syscall.FD_CLOEXEC != 0
	// Another open file description of the pod dir cannot take the lock
	// while the descriptor stage0 handed over holds it.
	other, err := syscall.Open(".", syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err == nil {
		err = syscall.Flock(other, syscall.LOCK_SH|syscall.LOCK_NB)
		s.Held = errors.Is(err, syscall.EWOULDBLOCK)
		syscall.Close(other)
	}
	return s
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "stub stage1:", err)
	os.Exit(250)
}
`

var stubBinary struct {
	once sync.Once
	data []byte
	err  error
}

// stubStage1Binary builds the stub once for the suite (static, std only).
func stubStage1Binary(t *testing.T) []byte {
	t.Helper()
	stubBinary.once.Do(func() {
		dir := filepath.Join(suiteDir, "stub-stage1")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			stubBinary.err = err
			return
		}
		files := map[string]string{"go.mod": "module stubstage1\n\ngo 1.26\n", "main.go": stubStage1Source}
		for n, s := range files {
			if err := os.WriteFile(filepath.Join(dir, n), []byte(s), 0o644); err != nil {
				stubBinary.err = err
				return
			}
		}
		cmd := exec.Command("go", "build", "-o", "stub", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOWORK=off", "GOFLAGS=-mod=mod")
		if b, err := cmd.CombinedOutput(); err != nil {
			stubBinary.err = fmt.Errorf("building the stub stage1: %v\n%s", err, b)
			return
		}
		stubBinary.data, stubBinary.err = os.ReadFile(filepath.Join(dir, "stub"))
	})
	if stubBinary.err != nil {
		t.Fatal(stubBinary.err)
	}
	return stubBinary.data
}

// stubStage1 writes a stub stage1 image whose run entrypoint exits with
// exit, and returns its path and the directory its records go to.
func (pe *podEnv) stubStage1(exit int) (aciPath, logDir string) {
	pe.t.Helper()
	logDir = filepath.Join(pe.base, "stub-log")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		pe.t.Fatal(err)
	}
	manifest := fmt.Sprintf(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"localhost/%s/stub-stage1",
"labels":[{"name":"version","value":"1.0"},{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}],
"annotations":[
 {"name":"coreos.com/rkt/stage1/run","value":"/init"},
 {"name":"coreos.com/rkt/stage1/enter","value":"/enter"},
 {"name":"coreos.com/rkt/stage1/stop","value":"/stop"},
 {"name":"coreos.com/rkt/stage1/gc","value":"/gc"},
 {"name":"coreos.com/rkt/stage1/interface-version","value":"5"}]}`, pe.slug)
	cfg, _ := json.Marshal(map[string]any{"exit": exit, "log": logDir})
	bin := stubStage1Binary(pe.t)
	files := []storetest.File{
		{Name: "init", Body: bin, Mode: 0o755},
		{Name: "enter", Body: bin, Mode: 0o755},
		{Name: "stop", Body: bin, Mode: 0o755},
		{Name: "gc", Body: bin, Mode: 0o755},
		{Name: "stub.json", Body: cfg, Mode: 0o644},
	}
	aci := storetest.BuildACIWithManifest(pe.t, []byte(manifest), files...)
	return pe.write(fmt.Sprintf("stub-stage1-%d.aci", exit), aci), logDir
}

// stubRecord is what one stub entrypoint invocation saw.
type stubRecord struct {
	Entry string   `json:"entry"`
	Args  []string `json:"args"`
	Env   []string `json:"env"`
	Cwd   string   `json:"cwd"`
	Lock  struct {
		Env       string `json:"env"`
		Valid     bool   `json:"valid"`
		SameAsCwd bool   `json:"sameAsCwd"`
		Held      bool   `json:"held"`
		CloExec   bool   `json:"cloexec"`
	} `json:"lock"`
	Files map[string]bool `json:"files"`
	Apps  []string        `json:"apps"`
}

// stubRecords returns the records of entry, oldest first.
func stubRecords(t *testing.T, logDir, entry string) []stubRecord {
	t.Helper()
	ms, _ := filepath.Glob(filepath.Join(logDir, entry+"-*.json"))
	slices.Sort(ms)
	var out []stubRecord
	for _, m := range ms {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		var r stubRecord
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("stub record %s: %v", m, err)
		}
		out = append(out, r)
	}
	return out
}

func (r stubRecord) env(name string) (string, bool) {
	for _, kv := range r.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// TestStubStage1RunContract checks what stage0 hands the run entrypoint:
// the working directory is pods/run/<uuid>, RKT_LOCK_FD is an open,
// inheritable descriptor of that directory holding its lock, the pod is
// laid out, the UUID is the last argument, and rkt run exits with stage1's
// exit code.
func TestStubStage1RunContract(t *testing.T) {
	t.Parallel()
	pe := newBarePodEnv(t)
	stub, logDir := pe.stubStage1(42)
	img := pe.busyboxImage("app", []string{"/bin/true"}, nil)

	saved := filepath.Join(pe.base, "uuid")
	_, stderr, code := rkt(t, pe.env, "run", "--stage1-path="+stub, "--uuid-file-save="+saved, "--hostname=stubhost", img)
	if code != 42 {
		t.Fatalf("rkt run with a stage1 exiting 42: exit %d, want 42\nstderr: %s", code, stderr)
	}
	b, err := os.ReadFile(saved)
	if err != nil {
		t.Fatalf("--uuid-file-save: %v", err)
	}
	uuid := strings.TrimSpace(string(b))
	runs := stubRecords(t, logDir, "init")
	if len(runs) != 1 {
		t.Fatalf("stage1 run entrypoint invoked %d times, want 1", len(runs))
	}
	r := runs[0]
	wantCwd := filepath.Join(pe.dataDir, "pods", "run", uuid)
	if r.Cwd != wantCwd {
		t.Errorf("stage1 run: cwd %q, want the pod dir %q", r.Cwd, wantCwd)
	}
	if len(r.Args) == 0 || r.Args[len(r.Args)-1] != uuid {
		t.Errorf("stage1 run: args %q, want the UUID %s last", r.Args, uuid)
	}
	if !slices.ContainsFunc(r.Args, func(a string) bool { return strings.HasPrefix(a, "--net=") }) {
		t.Errorf("stage1 run: args %q lack --net=", r.Args)
	}
	if !slices.Contains(r.Args, "--hostname=stubhost") {
		t.Errorf("stage1 run: args %q lack --hostname=stubhost (interface version 5 has it)", r.Args)
	}
	if slices.Contains(r.Args, "--debug") {
		t.Errorf("stage1 run: args %q have --debug without rkt --debug", r.Args)
	}
	if !r.Lock.Valid || !r.Lock.SameAsCwd || !r.Lock.Held {
		t.Errorf("stage1 run: RKT_LOCK_FD=%q: valid=%v, is the pod dir=%v, lock held=%v; want all true",
			r.Lock.Env, r.Lock.Valid, r.Lock.SameAsCwd, r.Lock.Held)
	}
	if r.Lock.CloExec {
		t.Errorf("stage1 run: RKT_LOCK_FD is close-on-exec")
	}
	for _, f := range []string{"pod", "runtime-config", "pod-created", "stage1/manifest", "stage1TreeStoreID"} {
		if !r.Files[f] {
			t.Errorf("stage1 run: %s missing from the pod dir", f)
		}
	}
	if !slices.Equal(r.Apps, []string{"app"}) {
		t.Errorf("stage1 run: apps with a rootfs under opt/stage2: %v, want [app]", r.Apps)
	}

	// Stage1 is gone and the lock with it: the pod has exited.
	if st := pe.status(uuid); st["state"] != "exited" {
		t.Errorf("status after stage1 exited: state=%q, want exited", st["state"])
	}
	// gc runs the gc entrypoint in the pod dir with the UUID, then removes it.
	pe.ok("gc", "--grace-period=0s")
	gcs := stubRecords(t, logDir, "gc")
	if len(gcs) != 1 {
		t.Fatalf("stage1 gc entrypoint invoked %d times, want 1", len(gcs))
	}
	if g := gcs[0]; len(g.Args) == 0 || g.Args[len(g.Args)-1] != uuid || !strings.HasSuffix(g.Cwd, "/"+uuid) {
		t.Errorf("stage1 gc: args %q in %q, want the UUID last, in the pod dir", g.Args, g.Cwd)
	}
	pe.assertClean("after gc")
}

// TestStubStage1Debug checks that --debug reaches stage1 as its first flag.
func TestStubStage1Debug(t *testing.T) {
	t.Parallel()
	pe := newBarePodEnv(t)
	stub, logDir := pe.stubStage1(0)
	img := pe.busyboxImage("app", []string{"/bin/true"}, nil)
	if _, stderr, code := rkt(t, pe.env, "--debug", "run", "--stage1-path="+stub, img); code != 0 {
		t.Fatalf("rkt --debug run: exit %d\n%s", code, stderr)
	}
	runs := stubRecords(t, logDir, "init")
	if len(runs) != 1 || len(runs[0].Args) == 0 || runs[0].Args[0] != "--debug" {
		t.Fatalf("stage1 run records %+v, want one with --debug first", runs)
	}
}

// TestStubStage1Prepared checks prepare then run-prepared: the prepared
// pod is run by the same UUID, with the same layout and lock hand-over.
func TestStubStage1Prepared(t *testing.T) {
	t.Parallel()
	pe := newBarePodEnv(t)
	stub, logDir := pe.stubStage1(3)
	img := pe.busyboxImage("app", []string{"/bin/true"}, nil)
	out := pe.ok("prepare", "--quiet", "--stage1-path="+stub, img)
	uuid := strings.TrimSpace(out)
	if !uuidRe.MatchString(uuid) {
		t.Fatalf("prepare --quiet printed %q, want only a UUID", out)
	}
	if d := pe.podDir(uuid); d != filepath.Join(pe.dataDir, "pods", "prepared", uuid) {
		t.Errorf("prepared pod is at %q, want pods/prepared/%s", d, uuid)
	}
	if st := pe.status(uuid); st["state"] != "prepared" {
		t.Errorf("status of a prepared pod: state=%q, want prepared", st["state"])
	}
	if n := len(stubRecords(t, logDir, "init")); n != 0 {
		t.Errorf("prepare ran stage1 %d times", n)
	}
	pe.fails(3, "run-prepared", uuid)
	runs := stubRecords(t, logDir, "init")
	if len(runs) != 1 {
		t.Fatalf("run-prepared ran stage1 %d times, want 1", len(runs))
	}
	r := runs[0]
	if r.Args[len(r.Args)-1] != uuid || r.Cwd != filepath.Join(pe.dataDir, "pods", "run", uuid) {
		t.Errorf("run-prepared: stage1 args %q cwd %q, want UUID %s in pods/run", r.Args, r.Cwd, uuid)
	}
	if !r.Lock.Held || !r.Lock.SameAsCwd {
		t.Errorf("run-prepared: lock valid=%v same=%v held=%v", r.Lock.Valid, r.Lock.SameAsCwd, r.Lock.Held)
	}
	// A pod runs once.
	_, stderr := pe.fails(254, "run-prepared", uuid)
	if stderr == "" {
		t.Error("second run-prepared failed silently")
	}
}

// TestStubStage1FailedGC: a pod whose stage1 gc fails is kept by rkt gc,
// which says so and tries again next time (what the stage1 holds is
// released by nothing else), while rkt rm, asked by name, removes it with
// a warning.
func TestStubStage1FailedGC(t *testing.T) {
	t.Parallel()
	pe := newBarePodEnv(t)
	stub, logDir := pe.stubStage1(0)
	img := pe.busyboxImage("app", []string{"/bin/true"}, nil)
	failGC := filepath.Join(logDir, "gc-exit")
	if err := os.WriteFile(failGC, []byte("3"), 0o644); err != nil {
		t.Fatal(err)
	}
	uuids := make([]string, 2)
	for i := range uuids {
		saved := filepath.Join(pe.base, fmt.Sprintf("uuid-%d", i))
		if _, stderr, code := rkt(t, pe.env, "run", "--stage1-path="+stub, "--uuid-file-save="+saved, img); code != 0 {
			t.Fatalf("rkt run: exit %d\n%s", code, stderr)
		}
		b, err := os.ReadFile(saved)
		if err != nil {
			t.Fatal(err)
		}
		uuids[i] = strings.TrimSpace(string(b))
	}

	_, stderr, code := rkt(t, pe.env, "gc", "--grace-period=0s")
	if code == 0 {
		t.Errorf("rkt gc with a failing stage1 gc: exit 0\n%s", stderr)
	}
	for _, u := range uuids {
		if !strings.Contains(stderr, u) || !strings.Contains(stderr, "kept for the next gc to retry") {
			t.Errorf("rkt gc stderr does not say pod %s was kept:\n%s", u, stderr)
		}
		if st := pe.status(u); st["state"] != "exited garbage" {
			t.Errorf("pod %s after a failed stage1 gc: state %q, want exited garbage", u, st["state"])
		}
	}

	// rm, asked by name, removes the first pod anyway and warns.
	_, stderr, code = rkt(t, pe.env, "rm", uuids[0])
	if code != 0 {
		t.Fatalf("rkt rm with a failing stage1 gc: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "warning: pod "+uuids[0]+": stage1 gc failed; removing the pod anyway") {
		t.Errorf("rkt rm stderr lacks the warning:\n%s", stderr)
	}
	if d := pe.podDir(uuids[0]); d != "" {
		t.Errorf("pod %s after rm: still at %s", uuids[0], d)
	}

	// Once the stage1 gc works again, the next gc finishes the job.
	if err := os.Remove(failGC); err != nil {
		t.Fatal(err)
	}
	pe.ok("gc", "--grace-period=0s")
	if n := len(stubRecords(t, logDir, "gc")); n != 4 {
		t.Errorf("stage1 gc entrypoint invoked %d times, want 4 (2 failed by gc, 1 by rm, 1 retry)", n)
	}
	pe.assertClean("after the retried gc")
}
