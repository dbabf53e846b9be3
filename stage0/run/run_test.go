package run

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/common/entrypoint"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage0/fetch"
	"github.com/rkt/rkt/stage0/metadata"
	"github.com/rkt/rkt/stage0/pod"
	"github.com/rkt/rkt/stage0/podspec"
	"github.com/rkt/rkt/stage0/trust"
	"github.com/rkt/rkt/store"
	"github.com/rkt/rkt/store/index"
	"github.com/rkt/rkt/store/storetest"
)

// The test binary doubles as the rkt process that execs stage1: with
// RUN_TEST_HELPER set, TestMain runs Run or RunPrepared as described by it
// and never returns to the tests.
func TestMain(m *testing.M) {
	if spec := os.Getenv("RUN_TEST_HELPER"); spec != "" {
		os.Unsetenv("RUN_TEST_HELPER")
		helperMain(spec)
		return
	}
	os.Exit(m.Run())
}

type helperSpec struct {
	DataDir, Stage1 string
	Args            []string // run: the argument vector
	UUID            string   // run-prepared
	MDSSocket       string
	Enter           bool // enter the pod UUID
}

func helperMain(spec string) {
	var h helperSpec
	if err := json.Unmarshal([]byte(spec), &h); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(250)
	}
	s, err := store.Open(h.DataDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(250)
	}
	cfg := testConfig(h.DataDir, s, h.Stage1)
	cfg.MDSSocket = h.MDSSocket
	ctx := context.Background()
	if h.Enter {
		err = Enter(ctx, cfg, h.UUID, "", nil)
	} else if h.UUID != "" {
		err = RunPrepared(ctx, cfg, h.UUID, RunOverrides{Hostname: "override", Net: []string{"none"}, IPC: "private"})
	} else {
		plan := &podspec.Plan{Command: "run"}
		if err = podspec.Parse(h.Args, plan); err == nil {
			err = Run(ctx, cfg, plan)
		}
	}
	fmt.Fprintln(os.Stderr, "helper: run returned:", err)
	os.Exit(254)
}

func testConfig(dataDir string, s *store.Store, stage1 string) Config {
	ks := trust.New(filepath.Join(dataDir, "sys"), filepath.Join(dataDir, "local"))
	return Config{
		DataDir: dataDir, LocalConfig: filepath.Join(dataDir, "local"), SystemConfig: filepath.Join(dataDir, "sys"),
		Store:         s,
		Fetcher:       &fetch.Fetcher{Store: s, Keystore: ks, Client: http.DefaultClient},
		Stage1Default: stage1,
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root: pods mount overlayfs and chown their files")
	}
}

// stubSource is a stage1 whose entrypoints record how they were called
// (argv, cwd, the lock fd) in $STUB_DIR/<entrypoint>.json; init then waits
// for $STUB_DIR/release and exits with the code in $STUB_DIR/exit-code;
// stop creates the release file.
const stubSource = `package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type record struct {
	Args      []string
	Cwd       string
	LockFD    string
	LockValid bool
	Env       []string
}

func main() {
	dir := os.Getenv("STUB_DIR")
	entry := filepath.Base(os.Args[0])
	r := record{Args: os.Args[1:], LockFD: os.Getenv("RKT_LOCK_FD")}
	r.Cwd, _ = os.Getwd()
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "STUB_") || strings.HasPrefix(kv, "RKT_") {
			r.Env = append(r.Env, kv)
		}
	}
	if fd, err := strconv.Atoi(r.LockFD); err == nil {
		var st syscall.Stat_t
		r.LockValid = syscall.Fstat(fd, &st) == nil
	}
	if entry == "init" {
		os.WriteFile("pid.tmp", []byte(strconv.Itoa(os.Getpid())), 0o644)
		os.Rename("pid.tmp", "pid")
	}
	data, _ := json.Marshal(r)
	tmp := filepath.Join(dir, entry+".json.tmp")
	os.WriteFile(tmp, data, 0o644)
	os.Rename(tmp, filepath.Join(dir, entry+".json"))
	switch entry {
	case "init":
		for i := 0; i < 3000; i++ {
			if _, err := os.Stat(filepath.Join(dir, "release")); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		code, _ := os.ReadFile(filepath.Join(dir, "exit-code"))
		n, _ := strconv.Atoi(strings.TrimSpace(string(code)))
		os.Exit(n)
	case "stop":
		os.WriteFile(filepath.Join(dir, "release"), nil, 0o644)
	}
}
`

var (
	stubOnce sync.Once
	stubBin  string
	stubErr  error
)

// buildStub compiles the stub stage1 once per test binary run.
func buildStub(t *testing.T) string {
	t.Helper()
	stubOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stage1-stub-")
		if err != nil {
			stubErr = err
			return
		}
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module stub\n\ngo 1.22\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "main.go"), []byte(stubSource), 0o644)
		c := exec.Command("go", "build", "-o", "stub", ".")
		c.Dir = dir
		c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
		if out, err := c.CombinedOutput(); err != nil {
			stubErr = fmt.Errorf("building the stub stage1: %v\n%s", err, out)
			return
		}
		stubBin = filepath.Join(dir, "stub")
	})
	if stubErr != nil {
		t.Fatal(stubErr)
	}
	return stubBin
}

// stage1ACI writes a stage1 image holding the stub and its entrypoint
// symlinks to dir/stage1-stub.aci.
func stage1ACI(t *testing.T, dir string) string {
	t.Helper()
	bin, err := os.ReadFile(buildStub(t))
	if err != nil {
		t.Fatal(err)
	}
	im := schema.BlankImageManifest()
	im.Name = *types.MustACIdentifier("example.com/stage1-stub")
	entrypoint.SetEntrypoints(im, "/init", "/enter", "/stop", "/gc", entrypoint.InterfaceVersionNspawn)
	mj, err := json.Marshal(im)
	if err != nil {
		t.Fatal(err)
	}
	aci := storetest.BuildACIWithManifest(t, mj,
		storetest.File{Name: "stub", Body: bin, Mode: 0o755},
		storetest.File{Name: "init", Typeflag: tar.TypeSymlink, Linkname: "stub"},
		storetest.File{Name: "enter", Typeflag: tar.TypeSymlink, Linkname: "stub"},
		storetest.File{Name: "stop", Typeflag: tar.TypeSymlink, Linkname: "stub"},
		storetest.File{Name: "gc", Typeflag: tar.TypeSymlink, Linkname: "stub"},
		storetest.File{Name: "opt", Typeflag: tar.TypeDir},
		storetest.File{Name: "opt/stage2", Typeflag: tar.TypeDir},
	)
	path := filepath.Join(dir, "stage1-stub.aci")
	if err := os.WriteFile(path, aci, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// busyboxACI is a busybox image named name with sh and true as links.
func busyboxACI(t *testing.T, name string) []byte {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skip("needs /bin/busybox (busybox-static) to build the test image")
	}
	man := fmt.Sprintf(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":%q,
	  "labels":[{"name":"version","value":"1.0"},{"name":"os","value":"linux"},{"name":"arch","value":%q}],
	  "app":{"exec":["/bin/sh","-c","true"],"user":"0","group":"0",
	         "ports":[{"name":"http","protocol":"tcp","port":80}]}}`, name, aciArch())
	return storetest.BuildACIWithManifest(t, []byte(man),
		storetest.File{Name: "bin", Typeflag: tar.TypeDir},
		storetest.File{Name: "bin/busybox", Body: bb, Mode: 0o755},
		storetest.File{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "busybox"},
		storetest.File{Name: "bin/true", Typeflag: tar.TypeLink, Linkname: "bin/busybox"},
		storetest.File{Name: "etc", Typeflag: tar.TypeDir},
		storetest.File{Name: "etc/secret", Body: []byte("s"), Mode: 0o600, Uid: 7, Gid: 8},
	)
}

type env struct {
	dir, dataDir, stage1, stubDir string
	store                         *store.Store
	cfg                           Config
	busybox                       string // image key
}

func newEnv(t *testing.T) *env {
	t.Helper()
	needRoot(t)
	e := &env{dir: t.TempDir()}
	e.dataDir = filepath.Join(e.dir, "data")
	e.stubDir = filepath.Join(e.dir, "stub")
	os.Mkdir(e.stubDir, 0o755)
	t.Setenv("STUB_DIR", e.stubDir)
	s, err := store.Open(e.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	e.store = s
	e.stage1 = stage1ACI(t, e.dir)
	e.cfg = testConfig(e.dataDir, s, e.stage1)
	key, err := ingestFile(s, bytes.NewReader(busyboxACI(t, "example.com/busybox")))
	if err != nil {
		t.Fatal(err)
	}
	e.busybox = key
	t.Cleanup(func() {
		// Whatever a failing test left mounted goes before TempDir's removal.
		pod.UnmountAll(e.dataDir)
		s.Close()
	})
	return e
}

func (e *env) plan(t *testing.T, cmd string, args ...string) *podspec.Plan {
	t.Helper()
	plan := &podspec.Plan{Command: cmd}
	if err := podspec.Parse(args, plan); err != nil {
		t.Fatal(err)
	}
	return plan
}

func exists(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("missing: %v", err)
	}
}

func TestPrepareLaysOutAnOverlayPod(t *testing.T) {
	e := newEnv(t)
	// Last used an hour ago: older than store.TouchInterval, so the pod's
	// use is recorded.
	idx, err := index.Open(filepath.Join(e.dataDir, "cas", "db", "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.UpdateImage(e.busybox, func(img *index.Image) { img.LastUsed = img.LastUsed.Add(-time.Hour) }); err != nil {
		t.Fatal(err)
	}
	before, _ := e.store.Image(e.busybox)
	uuidFile := filepath.Join(e.dir, "uuid")
	plan := e.plan(t, "prepare", "--volume=data,kind=empty,mode=0750,uid=11,gid=12", "--uuid-file-save="+uuidFile,
		e.busybox, "--name=first", "--mount=volume=data,target=/data",
		"example.com/busybox", "--name=second", "--", "extra")
	p, err := Prepare(context.Background(), e.cfg, plan)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pod.Get(e.dataDir, p.UUID)
	if err != nil || got.State != pod.Prepared || !strings.Contains(got.Path, "/pods/prepared/") {
		t.Fatalf("pod after Prepare: %+v, %v", got, err)
	}
	if b, _ := os.ReadFile(uuidFile); string(b) != p.UUID {
		t.Errorf("uuid file = %q, want %q", b, p.UUID)
	}
	pm, _, err := got.Manifest()
	if err != nil || len(pm.Apps) != 2 || pm.Apps[1].App.Exec[len(pm.Apps[1].App.Exec)-1] != "extra" {
		t.Fatalf("pod manifest: %v %+v", err, pm)
	}
	rc, err := podlayout.ReadRuntimeConfig(podlayout.RuntimeConfigPath(got.Path))
	if err != nil || rc.UUID != p.UUID || rc.Hostname != "rkt-"+p.UUID || !reflect.DeepEqual(rc.NetList, []string{"default"}) {
		t.Errorf("runtime config: %+v, %v", rc, err)
	}
	s1Tree, _ := os.ReadFile(filepath.Join(got.Path, podlayout.Stage1TreeStoreIDFile))
	appTree, _ := os.ReadFile(podlayout.AppsInfoTreeStoreID(got.Path, "first"))
	if string(appTree) != "deps-"+e.busybox {
		t.Errorf("app tree = %q, want deps-%s", appTree, e.busybox)
	}
	for _, f := range []string{
		podlayout.Stage1Manifest(got.Path), podlayout.AppsInfoManifest(got.Path, "first"),
		podlayout.AppsInfoManifest(got.Path, "second"), filepath.Join(got.Path, podlayout.OverlayPreparedFile),
		filepath.Join(podlayout.OverlayDir(got.Path, string(s1Tree)), "upper", "opt/stage2/second/manifest"),
		filepath.Join(podlayout.OverlayDir(got.Path, string(appTree)), "upper", "first"),
		filepath.Join(podlayout.OverlayDir(got.Path, string(appTree)), "work", "second"),
	} {
		exists(t, f)
	}
	// Prepared, not mounted: the stage1 rootfs is an empty mount point.
	if ents, err := os.ReadDir(podlayout.Stage1Rootfs(got.Path)); err != nil || len(ents) != 0 {
		t.Errorf("stage1 rootfs of a prepared overlay pod: %v entries, %v", len(ents), err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(podlayout.SharedVolumeDir(got.Path, "data"), &st); err != nil || st.Mode&0o7777 != 0o750 || st.Uid != 11 || st.Gid != 12 {
		t.Errorf("empty volume: mode %o uid %d gid %d, %v", st.Mode&0o7777, st.Uid, st.Gid, err)
	}
	after, _ := e.store.Image(e.busybox)
	if !after.LastUsed.After(before.LastUsed) {
		t.Errorf("lastused not touched: %v -> %v", before.LastUsed, after.LastUsed)
	}
}

func TestPrepareNoOverlayCopiesTheRootfs(t *testing.T) {
	e := newEnv(t)
	p, err := Prepare(context.Background(), e.cfg, e.plan(t, "prepare", "--no-overlay", e.busybox))
	if err != nil {
		t.Fatal(err)
	}
	root := podlayout.AppRootfs(p.Path, "busybox")
	if target, err := os.Readlink(filepath.Join(root, "bin/sh")); err != nil || target != "busybox" {
		t.Errorf("bin/sh -> %q, %v", target, err)
	}
	var bb, tr, sec syscall.Stat_t
	syscall.Stat(filepath.Join(root, "bin/busybox"), &bb)
	syscall.Stat(filepath.Join(root, "bin/true"), &tr)
	if bb.Ino == 0 || bb.Ino != tr.Ino || bb.Mode&0o777 != 0o755 {
		t.Errorf("hard link or mode not kept: busybox ino %d mode %o, true ino %d", bb.Ino, bb.Mode&0o777, tr.Ino)
	}
	if err := syscall.Stat(filepath.Join(root, "etc/secret"), &sec); err != nil || sec.Uid != 7 || sec.Gid != 8 || sec.Mode&0o777 != 0o600 {
		t.Errorf("owner or mode not kept: %+v %v", sec, err)
	}
	exists(t, filepath.Join(podlayout.Stage1Rootfs(p.Path), "stub"))
	exists(t, podlayout.AppImageManifest(p.Path, "busybox"))
	if _, err := os.Stat(filepath.Join(p.Path, podlayout.OverlayPreparedFile)); err == nil {
		t.Error("a copied pod is marked overlay-prepared")
	}
	if mounted, _ := isMountPoint(root); mounted {
		t.Error("a copied app rootfs is a mount point")
	}
}

func TestPrepareErrorsLeaveNoPod(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		want error
	}{
		{[]string{"--pull-policy=never", "example.com/absent"}, fetch.ErrNotInStore},
		{[]string{"--stage1-path=" + filepath.Join(e.dir, "nope.aci"), e.busybox}, os.ErrNotExist},
		{[]string{e.busybox, e.busybox}, podspec.ErrUsage},           // two apps named busybox
		{[]string{"--port=https:8443", e.busybox}, podspec.ErrUsage}, // the image declares only http
	} {
		_, err := Prepare(context.Background(), e.cfg, e.plan(t, "prepare", tc.args...))
		if !errors.Is(err, tc.want) {
			t.Errorf("%q: %v, want %v", tc.args, err, tc.want)
		}
	}
	pods, _ := pod.List(e.dataDir)
	for _, p := range pods {
		if p.State != pod.Garbage {
			t.Errorf("pod %s left in state %s", p.UUID, p.State)
		}
	}
}

func TestStage1IsImportedOnceAndTrustedByLocation(t *testing.T) {
	e := newEnv(t)
	var logs bytes.Buffer
	e.cfg.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	k1, err := importTrusted(&e.cfg, e.stage1)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := importTrusted(&e.cfg, e.stage1)
	if err != nil || k2 != k1 {
		t.Fatalf("second import: %s %v, want %s", k2, err, k1)
	}
	if !strings.Contains(logs.String(), "already imported") || strings.Count(logs.String(), "without a signature") != 1 {
		t.Errorf("the unchanged stage1 file was imported again:\n%s", logs.String())
	}
	// A rebuilt file at the same place is imported again.
	time.Sleep(10 * time.Millisecond)
	data, _ := os.ReadFile(e.stage1)
	os.WriteFile(e.stage1, data, 0o644)
	if _, err := importTrusted(&e.cfg, e.stage1); err != nil {
		t.Fatal(err)
	}
	if strings.Count(logs.String(), "without a signature") != 2 {
		t.Errorf("a rewritten stage1 file was not imported again:\n%s", logs.String())
	}
}

// startHelper runs the test binary as rkt, which execs the stub stage1.
func startHelper(t *testing.T, h helperSpec) *exec.Cmd {
	t.Helper()
	spec, _ := json.Marshal(h)
	c := exec.Command(os.Args[0], "-test.run=^$")
	c.Env = append(os.Environ(), "RUN_TEST_HELPER="+string(spec))
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.ProcessState == nil {
			c.Process.Kill()
			c.Wait()
		}
		if t.Failed() {
			t.Logf("helper output:\n%s", out.String())
		}
	})
	return c
}

type stubRecord struct {
	Args      []string
	Cwd       string
	LockFD    string
	LockValid bool
	Env       []string
}

func waitRecord(t *testing.T, dir, entry string) stubRecord {
	t.Helper()
	path := filepath.Join(dir, entry+".json")
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if err == nil {
			var r stubRecord
			if err := json.Unmarshal(data, &r); err != nil {
				t.Fatal(err)
			}
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("stage1 %s was not called", entry)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func exitCode(t *testing.T, c *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		t.Fatal("rkt run did not exit")
		return -1
	}
}

func TestRunExecsStage1HoldingThePodLock(t *testing.T) {
	e := newEnv(t)
	uuidFile := filepath.Join(e.dir, "uuid")
	os.WriteFile(filepath.Join(e.stubDir, "exit-code"), []byte("7"), 0o644)
	c := startHelper(t, helperSpec{DataDir: e.dataDir, Stage1: e.stage1, Args: []string{
		"--uuid-file-save=" + uuidFile, "--net=host", "--hostname=box", "--dns=8.8.8.8", e.busybox,
	}})
	r := waitRecord(t, e.stubDir, "init")
	uuid, _ := os.ReadFile(uuidFile)
	if len(uuid) == 0 {
		t.Fatal("no UUID saved before stage1 ran")
	}
	wantArgs := []string{"--net=host", "--local-config=" + e.cfg.LocalConfig, "--hostname=box", "--dns-conf-mode=resolv=stage0,hosts=default", string(uuid)}
	if !reflect.DeepEqual(r.Args, wantArgs) {
		t.Errorf("stage1 run args:\n got %q\nwant %q", r.Args, wantArgs)
	}
	p, err := pod.Get(e.dataDir, string(uuid))
	if err != nil {
		t.Fatal(err)
	}
	if r.Cwd != p.Path || !strings.Contains(p.Path, "/pods/run/") {
		t.Errorf("stage1 cwd %q, pod at %q", r.Cwd, p.Path)
	}
	if !r.LockValid {
		t.Errorf("RKT_LOCK_FD=%q is not an open descriptor in stage1", r.LockFD)
	}
	if p.State != pod.Running {
		t.Errorf("pod state while stage1 runs = %s, want running", p.State)
	}
	// The overlays are mounted: the stage1 and the app see their files.
	for _, mp := range []string{podlayout.Stage1Rootfs(p.Path), podlayout.AppRootfs(p.Path, "busybox")} {
		if m, err := isMountPoint(mp); err != nil || !m {
			t.Errorf("%s is not mounted: %v", mp, err)
		}
	}
	exists(t, filepath.Join(podlayout.AppRootfs(p.Path, "busybox"), "bin/busybox"))
	exists(t, podlayout.AppImageManifest(p.Path, "busybox"))
	// A write in the app's rootfs lands in the pod's upper dir, not the tree.
	os.WriteFile(filepath.Join(podlayout.AppRootfs(p.Path, "busybox"), "written"), []byte("x"), 0o644)
	exists(t, filepath.Join(podlayout.OverlayDir(p.Path, "deps-"+e.busybox), "upper", "busybox", "written"))
	if _, err := os.Stat(filepath.Join(e.store.TreePath("deps-"+e.busybox), "rootfs", "written")); err == nil {
		t.Error("a write in the pod reached the image tree")
	}

	os.WriteFile(filepath.Join(e.stubDir, "release"), nil, 0o644)
	if code := exitCode(t, c); code != 7 {
		t.Errorf("rkt run exit code = %d, want stage1's 7", code)
	}
	p.Refresh()
	if p.State != pod.Exited {
		t.Errorf("pod state after stage1 exited = %s, want exited", p.State)
	}

	// gc runs the stage1 gc entrypoint, unmounts and removes the pod.
	res, err := pod.GC(context.Background(), e.dataDir, pod.GCOptions{Stage1GC: Stage1GC(context.Background(), e.cfg)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Marked) != 1 || len(res.Removed) != 1 {
		t.Fatalf("gc marked %v and removed %v", res.Marked, res.Removed)
	}
	if r := waitRecord(t, e.stubDir, "gc"); !reflect.DeepEqual(r.Args, []string{"--local-config=" + e.cfg.LocalConfig, string(uuid)}) {
		t.Errorf("stage1 gc args = %q", r.Args)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), e.dataDir) {
		t.Errorf("mounts left under the data dir:\n%s", mounts)
	}
}

func TestRunPreparedAndStop(t *testing.T) {
	e := newEnv(t)
	p, err := Prepare(context.Background(), e.cfg, e.plan(t, "prepare", e.busybox))
	if err != nil {
		t.Fatal(err)
	}
	c := startHelper(t, helperSpec{DataDir: e.dataDir, Stage1: e.stage1, UUID: p.UUID})
	r := waitRecord(t, e.stubDir, "init")
	if r.Args[len(r.Args)-1] != p.UUID || !r.LockValid {
		t.Errorf("run-prepared stage1 args %q, lock valid %v", r.Args, r.LockValid)
	}
	for _, arg := range []string{"--net=none", "--ipc=private", "--hostname=override"} {
		if !slices.Contains(r.Args, arg) {
			t.Errorf("run-prepared stage1 args %q lack %s", r.Args, arg)
		}
	}
	rc, err := podlayout.ReadRuntimeConfig(podlayout.RuntimeConfigPath(strings.Replace(p.Path, "/prepared/", "/run/", 1)))
	if err != nil || rc.Hostname != "override" || rc.IPC != "private" || !reflect.DeepEqual(rc.NetList, []string{"none"}) {
		t.Errorf("run-prepared overrides not recorded: %+v %v", rc, err)
	}
	if err := Stop(context.Background(), e.cfg, p.UUID, true); err != nil {
		t.Fatal(err)
	}
	if r := waitRecord(t, e.stubDir, "stop"); !reflect.DeepEqual(r.Args, []string{"--force", p.UUID}) {
		t.Errorf("stage1 stop args = %q", r.Args)
	}
	if code := exitCode(t, c); code != 0 {
		t.Errorf("exit code %d", code)
	}
	// A pod that is not running can be neither stopped nor run again.
	if err := Stop(context.Background(), e.cfg, p.UUID, false); !errors.As(err, new(*pod.StateError)) {
		t.Errorf("Stop of an exited pod: %v", err)
	}
	if err := RunPrepared(context.Background(), e.cfg, p.UUID, RunOverrides{}); !errors.As(err, new(*pod.StateError)) {
		t.Errorf("RunPrepared of an exited pod: %v", err)
	}
	pod.UnmountAll(strings.Replace(p.Path, "/prepared/", "/run/", 1))
}

func TestChooseAppAndShell(t *testing.T) {
	var pm schema.PodManifest
	json.Unmarshal([]byte(`{"acKind":"PodManifest","acVersion":"0.8.11","apps":[
	  {"name":"a","image":{"id":"sha512-aa"}},{"name":"b","image":{"id":"sha512-bb"}}]}`), &pm)
	if _, err := chooseApp(&pm, ""); !errors.Is(err, ErrAppRequired) || !strings.Contains(err.Error(), "a, b") {
		t.Errorf("no app given in a two-app pod: %v", err)
	}
	if _, err := chooseApp(&pm, "c"); !errors.Is(err, ErrNoSuchApp) {
		t.Errorf("unknown app: %v", err)
	}
	if _, err := chooseApp(&pm, "../a"); err == nil {
		t.Error("a path as app name was accepted")
	}
	if app, err := chooseApp(&pm, "b"); err != nil || app != "b" {
		t.Errorf("chooseApp(b) = %q, %v", app, err)
	}
	root := t.TempDir()
	if _, err := findShell(root); !errors.Is(err, ErrNoShell) {
		t.Errorf("empty rootfs: %v", err)
	}
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	os.Symlink("busybox", filepath.Join(root, "bin/sh"))
	if sh, err := findShell(root); err != nil || sh != "/bin/sh" {
		t.Errorf("findShell = %q, %v", sh, err)
	}
}

func TestStage1EntrypointStaysInsideTheRootfs(t *testing.T) {
	for ep, ok := range map[string]bool{"/init": true, "/usr/lib/rkt/run": true, "/../../bin/sh": false, "init": false, "/": false} {
		im := schema.BlankImageManifest()
		im.Name = "example.com/s1"
		im.Annotations.Set(entrypoint.AnnotationRun, ep)
		_, err := stage1Entrypoint(im, entrypoint.AnnotationRun)
		if (err == nil) != ok {
			t.Errorf("entrypoint %q: err %v, want ok=%v", ep, err, ok)
		}
	}
}

// aciArch is the host's arch as appc names it (the default label of names).
func aciArch() string {
	switch runtime.GOARCH {
	case "arm64":
		return "aarch64"
	case "386":
		return "i386"
	}
	return runtime.GOARCH
}

func TestRunRegistersWithTheMetadataService(t *testing.T) {
	e := newEnv(t)
	sock := filepath.Join(e.dir, "mds.sock")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		served <- metadata.Serve(ctx, metadata.Options{SocketPath: sock, Ready: func(net.Addr) { close(ready) }})
	}()
	t.Cleanup(func() { cancel(); <-served })
	select {
	case <-ready:
	case err := <-served:
		t.Fatalf("metadata service: %v", err)
	}
	c := startHelper(t, helperSpec{DataDir: e.dataDir, Stage1: e.stage1, MDSSocket: sock, Args: []string{"--mds-register", "--net=host", e.busybox}})
	r := waitRecord(t, e.stubDir, "init")
	uuid := r.Args[len(r.Args)-1]
	p, err := pod.Get(e.dataDir, uuid)
	if err != nil {
		t.Fatal(err)
	}
	token, _ := os.ReadFile(filepath.Join(p.Path, podlayout.MdsTokenFile))
	if len(token) == 0 || !slices.Contains(r.Args, "--mds-token="+string(token)) {
		t.Errorf("stage1 args %q lack the token %q of mds-token", r.Args, token)
	}
	rc, err := podlayout.ReadRuntimeConfig(podlayout.RuntimeConfigPath(p.Path))
	if err != nil || !strings.Contains(rc.MetadataServiceURL, string(token)) {
		t.Fatalf("runtime config URL %q (token %q), %v", rc.MetadataServiceURL, token, err)
	}
	req, _ := http.NewRequest("GET", rc.MetadataServiceURL+"/acMetadata/v1/pod/uuid", nil)
	req.Header.Set("Metadata-Flavor", "AppContainer")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != uuid {
		t.Errorf("metadata service pod uuid = %q (%s), want %q", body, resp.Status, uuid)
	}
	os.WriteFile(filepath.Join(e.stubDir, "release"), nil, 0o644)
	exitCode(t, c)
	pod.UnmountAll(p.Path)
}

func TestEnterExecsStage1Enter(t *testing.T) {
	e := newEnv(t)
	c := startHelper(t, helperSpec{DataDir: e.dataDir, Stage1: e.stage1, Args: []string{e.busybox}})
	r := waitRecord(t, e.stubDir, "init")
	uuid := r.Args[len(r.Args)-1]
	p, err := pod.Get(e.dataDir, uuid)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := os.ReadFile(filepath.Join(p.Path, "pid"))
	enter := startHelper(t, helperSpec{DataDir: e.dataDir, UUID: uuid[:8], Enter: true})
	r = waitRecord(t, e.stubDir, "enter")
	want := []string{"--pid=" + string(pid), "--appname=busybox", "--", "/bin/sh"}
	if !reflect.DeepEqual(r.Args, want) || r.Cwd != p.Path {
		t.Errorf("stage1 enter: args %q in %q, want %q in %q", r.Args, r.Cwd, want, p.Path)
	}
	exitCode(t, enter)
	os.WriteFile(filepath.Join(e.stubDir, "release"), nil, 0o644)
	exitCode(t, c)
	pod.UnmountAll(p.Path)
}

func TestPrepareRecordsIsolationAndPorts(t *testing.T) {
	e := newEnv(t)
	plan := e.plan(t, "prepare", "--port=http:127.0.0.1:8080", "--private-users",
		e.busybox, "--memory=64M", "--caps-remove=CAP_NET_RAW", "--seccomp=mode=remove,errno=EPERM,reboot")
	p, err := Prepare(context.Background(), e.cfg, plan)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := podlayout.ReadRuntimeConfig(podlayout.RuntimeConfigPath(p.Path))
	if err != nil {
		t.Fatal(err)
	}
	want := []podlayout.PortForward{{Name: "http", Protocol: "tcp", PodPort: 80, HostIP: "127.0.0.1", HostPort: 8080}}
	if !reflect.DeepEqual(rc.Ports, want) || rc.PrivateUsers != "auto" {
		t.Errorf("runtime config: ports %+v private users %q; want %+v, auto", rc.Ports, rc.PrivateUsers, want)
	}
	pm, _, err := p.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	isos := pm.Apps[0].App.Isolators
	for _, name := range []types.ACIdentifier{types.ResourceMemoryName, types.LinuxCapabilitiesRevokeSetName, types.LinuxSeccompRemoveSetName} {
		if isos.GetByName(name) == nil {
			t.Errorf("pod manifest app lacks %s: %+v", name, isos)
		}
	}
}
