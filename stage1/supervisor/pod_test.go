package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/isospec"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/internal/ptytest"
	"github.com/rkt/rkt/stage1/isolation/cgroups/cgrouptest"
)

// These tests run the supervisor binary for real, as PID 1 of a new PID
// and mount namespace, chrooted into a stage1 rootfs made in the test with
// busybox apps.

var (
	supervisorBin string // built once by TestMain when running as root
	notifierBin   string // testdata/notifier, likewise
)

func TestMain(m *testing.M) {
	code := func() int {
		if os.Geteuid() != 0 {
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "supervisor-build-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "supervisor"), ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building the supervisor: %v\n%s", err, out)
			return 1
		}
		supervisorBin = filepath.Join(dir, "supervisor")
		cmd = exec.Command("go", "build", "-o", filepath.Join(dir, "notifier"), "./testdata/notifier")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building the notifier: %v\n%s", err, out)
			return 1
		}
		notifierBin = filepath.Join(dir, "notifier")
		return m.Run()
	}()
	os.Exit(code)
}

const busybox = "/bin/busybox"

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the supervisor mounts, chroots and changes users")
	}
	if _, err := os.Stat(busybox); err != nil {
		t.Skip("needs a static busybox at /bin/busybox for the test apps")
	}
}

type testApp struct {
	name         string
	exec         []string
	user, group  string
	supp         []int
	workdir      string
	imageEnv     types.Environment
	podEnv       types.Environment
	handlers     []types.EventHandler
	mounts       []schema.Mount
	readOnly     bool
	files        map[string]string // extra files in the rootfs
	symlinks     map[string]string // extra symlinks in the rootfs: name -> target
	annotations  types.Annotations // image manifest annotations
	podAnns      types.Annotations // the pod manifest's app annotations
	notifier     bool              // install testdata/notifier as /bin/notifier
	isolators    types.Isolators   // the image's
	podIsolators types.Isolators   // the pod manifest's app's (rkt's flags)
}

type testPod struct {
	apps    []testApp
	volumes []types.Volume
	rc      podlayout.RuntimeConfig
	dir     string // the stage1 rootfs, set by make
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// make lays the pod out as stage0 and the nspawn entrypoint would, and
// makes the stage1 rootfs a private mount so that nothing mounted inside
// can propagate anywhere.
func (p *testPod) make(t *testing.T) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "stage1")
	p.dir = dir
	for _, d := range []string{"rkt/volumes", "opt/stage2", "proc", "sys", "dev", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, supervisorBin, filepath.Join(dir, "supervisor"), 0o755)

	pm := schema.BlankPodManifest()
	pm.Volumes = p.volumes
	for _, v := range p.volumes {
		if err := os.MkdirAll(filepath.Join(dir, "rkt/volumes", v.Name.String()), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range p.apps {
		appDir := filepath.Join(dir, "opt/stage2", a.name)
		rootfs := filepath.Join(appDir, "rootfs")
		for _, d := range []string{"bin", "etc", "tmp", "home/app"} {
			os.MkdirAll(filepath.Join(rootfs, d), 0o755)
		}
		os.Chmod(filepath.Join(rootfs, "tmp"), 0o1777)
		copyFile(t, busybox, filepath.Join(rootfs, "bin/busybox"), 0o755)
		for _, tool := range []string{"sh", "echo", "cat", "id", "sleep", "pwd", "touch", "test", "ls", "true", "false"} {
			os.Symlink("busybox", filepath.Join(rootfs, "bin", tool))
		}
		writeFiles(t, rootfs, map[string]string{
			"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:App:/home/app:/bin/sh\n",
			"etc/group":  "root:x:0:\ngrp:x:1001:\nextra:x:1002:app\n",
		})
		writeFiles(t, rootfs, a.files)
		if a.notifier {
			copyFile(t, notifierBin, filepath.Join(rootfs, "bin/notifier"), 0o755)
		}
		for name, target := range a.symlinks {
			if err := os.Symlink(target, filepath.Join(rootfs, name)); err != nil {
				t.Fatal(err)
			}
		}
		name := types.MustACName(a.name)
		im := schema.BlankImageManifest()
		im.Name = *types.MustACIdentifier("example.com/" + a.name)
		im.Annotations = a.annotations
		im.App = &types.App{
			Exec: a.exec, User: "0", Group: "0", Environment: a.imageEnv,
			EventHandlers: a.handlers, WorkingDirectory: a.workdir, Isolators: a.isolators,
		}
		os.WriteFile(filepath.Join(appDir, "manifest"), mustJSON(t, im), 0o644)
		ra := schema.RuntimeApp{Name: *name, ReadOnlyRootFS: a.readOnly, Mounts: a.mounts, Annotations: a.podAnns}
		ra.Image.ID = *types.NewHashSHA512([]byte(a.name))
		if a.user != "" || a.group != "" || a.supp != nil || a.podEnv != nil || a.podIsolators != nil {
			// As stage0 writes it: the image's app with the flags applied
			// (the supervisor runs the pod app whole, as rkt 1.30 did).
			env := append(types.Environment(nil), a.imageEnv...)
			for _, v := range a.podEnv {
				env.Set(v.Name, v.Value)
			}
			ra.App = &types.App{Exec: a.exec, User: a.user, Group: a.group, SupplementaryGIDs: a.supp,
				Environment: env, EventHandlers: a.handlers, WorkingDirectory: a.workdir,
				Isolators: append(types.Isolators(nil), a.isolators...)}
			isospec.Override(ra.App, a.podIsolators)
			if ra.App.User == "" {
				ra.App.User = "0"
			}
			if ra.App.Group == "" {
				ra.App.Group = "0"
			}
		}
		pm.Apps = append(pm.Apps, ra)
	}
	os.WriteFile(filepath.Join(dir, "rkt/pod"), mustJSON(t, pm), 0o644)
	if err := p.rc.Write(filepath.Join(dir, "rkt/runtime-config")); err != nil {
		t.Fatal(err)
	}

	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if err := unix.Mount("", dir, "", unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
}

type result struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

// running is a supervisor started by start.
type running struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	start          time.Time
	cancel         context.CancelFunc
	ctx            context.Context
}

// start starts the supervisor as PID 1 of a new PID and mount namespace,
// chrooted into the pod, with extra environment variables.
func (p *testPod) start(t *testing.T, env []string, stdio *os.File) *running {
	t.Helper()
	r := &running{}
	r.ctx, r.cancel = context.WithTimeout(context.Background(), 60*time.Second)
	r.cmd = exec.CommandContext(r.ctx, "/supervisor")
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: p.dir, Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID}
	r.cmd.Dir = "/"
	r.cmd.Env = append([]string{"PATH=/bin"}, env...)
	if stdio != nil {
		r.cmd.Stdin, r.cmd.Stdout, r.cmd.Stderr = stdio, stdio, stdio
		// As under systemd-nspawn --console=interactive: the terminal is
		// the supervisor's session's controlling terminal.
		r.cmd.SysProcAttr.Setsid, r.cmd.SysProcAttr.Setctty, r.cmd.SysProcAttr.Ctty = true, true, 0
	} else {
		r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	}
	r.start = time.Now()
	if err := r.cmd.Start(); err != nil {
		r.cancel()
		t.Fatal(err)
	}
	return r
}

func (r *running) wait(t *testing.T) result {
	t.Helper()
	defer r.cancel()
	err := r.cmd.Wait()
	res := result{code: r.cmd.ProcessState.ExitCode(), stdout: r.stdout.String(), stderr: r.stderr.String(), elapsed: time.Since(r.start)}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running the supervisor: %v", err)
	}
	if r.ctx.Err() != nil {
		t.Fatalf("the supervisor did not exit in time; stderr:\n%s", res.stderr)
	}
	t.Logf("exit %d in %v\nstdout:\n%sstderr:\n%s", res.code, res.elapsed, res.stdout, res.stderr)
	return res
}

// run runs the supervisor to its end; with sig set, it sends sig once the
// supervisor reports every app started.
func (p *testPod) run(t *testing.T, sig os.Signal) result {
	t.Helper()
	r := p.start(t, nil, nil)
	if sig != nil {
		p.waitReady(t)
		if err := r.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	return r.wait(t)
}

// waitReady waits for rkt/supervisor-status, as rkt status --wait-ready
// does, by polling the file.
func (p *testPod) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if dest, err := os.Readlink(filepath.Join(p.dir, "rkt/supervisor-status")); err == nil && dest == "ready" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the supervisor never became ready")
}

// waitFile waits for a file an app writes once it has reached a point.
func (p *testPod) waitFile(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(name); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", name)
}

func (p *testPod) status(t *testing.T, app string) (int, bool) {
	t.Helper()
	code, err := podlayout.ReadAppStatus(filepath.Join(p.dir, "rkt/status", app))
	if errors.Is(err, os.ErrNotExist) {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return code, true
}

func (p *testPod) rootfsFile(app, name string) string {
	return filepath.Join(p.dir, "opt/stage2", app, "rootfs", name)
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

func TestPodExitCodes(t *testing.T) {
	needRoot(t)
	for _, code := range []int{0, 7} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			p := &testPod{apps: []testApp{{name: "app", exec: sh(fmt.Sprintf("echo hello; exit %d", code))}}}
			p.make(t)
			res := p.run(t, nil)
			if res.code != code {
				t.Errorf("exit code %d, want %d", res.code, code)
			}
			// One app: its output passes through untouched.
			if res.stdout != "hello\n" {
				t.Errorf("stdout %q", res.stdout)
			}
			if got, ok := p.status(t, "app"); !ok || got != code {
				t.Errorf("status %d (%v), want %d", got, ok, code)
			}
			for _, f := range []string{"app-created", "app-started"} {
				if _, err := os.Stat(filepath.Join(p.dir, "rkt/status", f)); err != nil {
					t.Error(err)
				}
			}
			if dest, err := os.Readlink(filepath.Join(p.dir, "rkt/supervisor-status")); err != nil || dest != "ready" {
				t.Errorf("supervisor-status %q, %v", dest, err)
			}
		})
	}
}

func TestPodNotFound(t *testing.T) {
	needRoot(t)
	p := &testPod{apps: []testApp{{name: "app", exec: []string{"/bin/nope"}}}}
	p.make(t)
	res := p.run(t, nil)
	if res.code != 127 {
		t.Errorf("exit code %d, want 127", res.code)
	}
	if got, _ := p.status(t, "app"); got != 127 {
		t.Errorf("status %d", got)
	}
}

func TestPodFirstFailureStopsOthers(t *testing.T) {
	needRoot(t)
	p := &testPod{
		apps: []testApp{
			{name: "fails", exec: sh("echo out-fails; echo err-fails >&2; sleep 0.2; exit 7")},
			{name: "sleeps", exec: sh("echo out-sleeps; exec sleep 100")},
			{name: "ok", exec: sh("exit 0")},
		},
	}
	p.make(t)
	res := p.run(t, nil)
	if res.code != 7 {
		t.Errorf("exit code %d, want 7", res.code)
	}
	if res.elapsed > 8*time.Second {
		t.Errorf("took %v: the sleeping app was not stopped by SIGTERM", res.elapsed)
	}
	for _, want := range []string{`(?m)^fails\[\d+\]: out-fails$`, `(?m)^sleeps\[\d+\]: out-sleeps$`} {
		if !regexp.MustCompile(want).MatchString(res.stdout) {
			t.Errorf("stdout lacks %s", want)
		}
	}
	if !regexp.MustCompile(`(?m)^fails\[\d+\]: err-fails$`).MatchString(res.stderr) {
		t.Errorf("stderr lacks the prefixed line")
	}
	want := map[string]int{"fails": 7, "sleeps": 128 + int(syscall.SIGTERM), "ok": 0}
	for app, code := range want {
		if got, ok := p.status(t, app); !ok || got != code {
			t.Errorf("status of %s: %d (%v), want %d", app, got, ok, code)
		}
	}
}

func TestPodAllSucceed(t *testing.T) {
	needRoot(t)
	p := &testPod{apps: []testApp{
		{name: "a", exec: sh("echo a")}, {name: "b", exec: sh("sleep 0.1; echo b")}, {name: "c", exec: sh("echo c")},
	}}
	p.make(t)
	res := p.run(t, nil)
	if res.code != 0 {
		t.Errorf("exit code %d", res.code)
	}
	for _, app := range []string{"a", "b", "c"} {
		if got, ok := p.status(t, app); !ok || got != 0 {
			t.Errorf("status of %s: %d (%v)", app, got, ok)
		}
		if !regexp.MustCompile(`(?m)^` + app + `\[\d+\]: ` + app + `$`).MatchString(res.stdout) {
			t.Errorf("no prefixed line of %s", app)
		}
	}
}

func TestPodEnvironment(t *testing.T) {
	needRoot(t)
	p := &testPod{
		apps: []testApp{{
			name:     "envapp",
			exec:     sh(`echo "$FOO $BAR $ONLY $AC_APP_NAME $PATH $AC_METADATA_URL"`),
			imageEnv: types.Environment{{Name: "FOO", Value: "image"}, {Name: "ONLY", Value: "img-only"}},
			podEnv:   types.Environment{{Name: "FOO", Value: "flag"}},
		}},
		rc: podlayout.RuntimeConfig{SetEnv: map[string]string{"BAR": "set-env"}, MetadataServiceURL: "http://mds/x"},
	}
	p.make(t)
	res := p.run(t, nil)
	want := "flag set-env img-only envapp " + DefaultPath + " http://mds/x\n"
	if res.code != 0 || res.stdout != want {
		t.Errorf("got %d %q, want %q", res.code, res.stdout, want)
	}
	env, err := os.ReadFile(filepath.Join(p.dir, "rkt/env/envapp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"FOO=flag", "BAR=set-env", "AC_APP_NAME=envapp", "PATH=" + DefaultPath} {
		if !strings.Contains(string(env), line+"\n") {
			t.Errorf("rkt/env/envapp lacks %s:\n%s", line, env)
		}
	}
}

func TestPodUser(t *testing.T) {
	needRoot(t)
	p := &testPod{apps: []testApp{{
		name: "u", user: "app", group: "grp", supp: []int{1002, 5}, workdir: "/opt/work",
		exec: sh(`echo "$(id -u) $(id -g) $(id -G) $(pwd) $HOME $USER"; touch /opt/work/x 2>/dev/null || echo cannot-write`),
	}}}
	p.make(t)
	res := p.run(t, nil)
	want := "1000 1001 1001 5 1002 /opt/work /home/app app\ncannot-write\n"
	if res.code != 0 || res.stdout != want {
		t.Errorf("got %d %q, want %q", res.code, res.stdout, want)
	}
}

func TestPodEventHandlers(t *testing.T) {
	needRoot(t)
	p := &testPod{apps: []testApp{{
		name: "h", user: "app", group: "grp",
		exec: sh("cat /pre-ran; id -u"),
		handlers: []types.EventHandler{
			{Name: "pre-start", Exec: sh("id -u > /pre-ran")},
			{Name: "post-stop", Exec: sh("echo post > /post-ran")},
		},
	}}}
	p.make(t)
	res := p.run(t, nil)
	// pre-start runs as root before the app, which runs as its user.
	if res.code != 0 || res.stdout != "0\n1000\n" {
		t.Errorf("got %d %q", res.code, res.stdout)
	}
	if b, err := os.ReadFile(p.rootfsFile("h", "post-ran")); err != nil || string(b) != "post\n" {
		t.Errorf("post-stop: %q, %v", b, err)
	}
}

func TestPodFailingPreStart(t *testing.T) {
	needRoot(t)
	p := &testPod{apps: []testApp{
		{
			name: "h", exec: sh("touch /app-ran"),
			handlers: []types.EventHandler{
				{Name: "pre-start", Exec: sh("exit 3")},
				{Name: "post-stop", Exec: sh("touch /post-ran")},
			},
		},
		{name: "other", exec: []string{"/bin/sleep", "100"}},
	}}
	p.make(t)
	res := p.run(t, nil)
	if res.code != 3 {
		t.Errorf("exit code %d, want 3", res.code)
	}
	if _, err := os.Stat(p.rootfsFile("h", "app-ran")); err == nil {
		t.Error("the app ran although its pre-start handler failed")
	}
	if _, err := os.Stat(p.rootfsFile("h", "post-ran")); err != nil {
		t.Errorf("post-stop did not run: %v", err)
	}
	if got, _ := p.status(t, "h"); got != 3 {
		t.Errorf("status %d, want 3", got)
	}
}

func TestPodSIGTERM(t *testing.T) {
	needRoot(t)
	p := &testPod{apps: []testApp{{
		name: "s", exec: []string{"/bin/sleep", "100"},
		handlers: []types.EventHandler{{Name: "post-stop", Exec: sh("echo post > /post-ran")}},
	}}}
	p.make(t)
	res := p.run(t, syscall.SIGTERM)
	if res.code != 0 {
		t.Errorf("exit code %d, want 0 for a requested stop", res.code)
	}
	if got, ok := p.status(t, "s"); !ok || got != 128+int(syscall.SIGTERM) {
		t.Errorf("status %d (%v)", got, ok)
	}
	if _, err := os.Stat(p.rootfsFile("s", "post-ran")); err != nil {
		t.Errorf("post-stop did not run: %v", err)
	}
}

func TestPodStopTimeout(t *testing.T) {
	needRoot(t)
	p := &testPod{
		apps: []testApp{{name: "stubborn", exec: sh(`trap "" TERM; : > /trapped; sleep 100; echo survived`)}},
		rc:   podlayout.RuntimeConfig{StopTimeout: 500 * time.Millisecond},
	}
	p.make(t)
	r := p.start(t, nil, nil)
	// "ready" means the app was started, not that its shell has ignored
	// SIGTERM yet: wait for the file written after the trap.
	p.waitFile(t, p.rootfsFile("stubborn", "trapped"))
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	res := r.wait(t)
	if got, ok := p.status(t, "stubborn"); !ok || got != 128+int(syscall.SIGKILL) {
		t.Errorf("status %d (%v), want SIGKILL's", got, ok)
	}
	if res.elapsed < 500*time.Millisecond || res.elapsed > 8*time.Second {
		t.Errorf("took %v with a stop timeout of 500ms", res.elapsed)
	}
	if strings.Contains(res.stdout, "survived") {
		t.Error("the app survived")
	}
}

func TestPodMountsAndVolumes(t *testing.T) {
	needRoot(t)
	yes := true
	p := &testPod{
		volumes: []types.Volume{
			{Name: "data", Kind: "host", Source: "/srv/data"},
			{Name: "ro", Kind: "host", Source: "/unused", ReadOnly: &yes},
		},
		apps: []testApp{{
			name: "m",
			exec: sh(strings.Join([]string{
				`cat /mnt/data/hello`,
				`echo new > /mnt/data/new`,
				`cat /escape/victim/hello`,
				`echo x > /ro/f 2>/dev/null && echo ro-writable || echo ro-readonly`,
				`echo x > /dev/null && test -c /dev/urandom && test -c /dev/tty && test -d /dev/pts && test -d /dev/shm && echo dev-ok`,
				`test -e /proc/self/status && echo proc-ok`,
				`test -d /sys/kernel && (touch /sys/x 2>/dev/null && echo sys-writable || echo sys-readonly)`,
				`test -d /tmp && echo tmp-ok`,
				`test -f /etc/hosts && echo hosts-ok`,
			}, "; ")),
			mounts: []schema.Mount{
				{Volume: "data", Path: "/mnt/data"},
				{Volume: "data", Path: "/escape/victim"},
				{Volume: "ro", Path: "/ro"},
			},
			symlinks: map[string]string{"escape": "/../../../../.."},
		}},
		rc: podlayout.RuntimeConfig{Hostname: "rkt-test"},
	}
	p.make(t)
	os.WriteFile(filepath.Join(p.dir, "rkt/volumes/data/hello"), []byte("hi\n"), 0o644)
	res := p.run(t, nil)
	want := "hi\nhi\nro-readonly\ndev-ok\nproc-ok\nsys-readonly\ntmp-ok\nhosts-ok\n"
	if res.code != 0 || res.stdout != want {
		t.Errorf("got %d %q, want %q", res.code, res.stdout, want)
	}
	if b, err := os.ReadFile(filepath.Join(p.dir, "rkt/volumes/data/new")); err != nil || string(b) != "new\n" {
		t.Errorf("write to the volume: %q, %v", b, err)
	}
	// The symlinked target resolved inside the app's rootfs.
	if _, err := os.Stat(p.rootfsFile("m", "victim")); err != nil {
		t.Errorf("the mount through /escape did not land inside the rootfs: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(p.dir), "victim")); err == nil {
		t.Error("a mount target was created outside the rootfs")
	}
}

func TestPodReadOnlyRootfs(t *testing.T) {
	needRoot(t)
	p := &testPod{
		volumes: []types.Volume{{Name: "data", Kind: "host", Source: "/srv/data"}},
		apps: []testApp{{
			name: "r", readOnly: true,
			exec:   sh(`touch /x 2>/dev/null && echo root-writable || echo root-readonly; echo v > /data/v && echo vol-writable; echo d > /dev/shm/d && echo shm-writable`),
			mounts: []schema.Mount{{Volume: "data", Path: "/data"}},
		}},
	}
	p.make(t)
	res := p.run(t, nil)
	want := "root-readonly\nvol-writable\nshm-writable\n"
	if res.code != 0 || res.stdout != want {
		t.Errorf("got %d %q, want %q", res.code, res.stdout, want)
	}
}

// Orphans of an app are reaped by the supervisor and killed with the pod.
func TestPodReapsOrphans(t *testing.T) {
	needRoot(t)
	p := &testPod{apps: []testApp{
		{name: "a", exec: sh("(sleep 100 &) ; (true &); echo spawned")},
		{name: "b", exec: sh("sleep 0.3; echo done")},
	}}
	p.make(t)
	res := p.run(t, nil)
	if res.code != 0 || res.elapsed > 8*time.Second {
		t.Errorf("exit %d after %v", res.code, res.elapsed)
	}
}

// runNspawn runs the pod the way the nspawn entrypoint does: the
// supervisor as PID 1 of systemd-nspawn, without machined.
func (p *testPod) runNspawn(t *testing.T, nspawn string, sig os.Signal) result {
	t.Helper()
	os.MkdirAll(filepath.Join(p.dir, "usr/lib"), 0o755)
	os.WriteFile(filepath.Join(p.dir, "usr/lib/os-release"), []byte("ID=rkt-test\n"), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, nspawn, "-D", p.dir, "--register=no", "--keep-unit", "--quiet",
		"--console=pipe", "--kill-signal=SIGTERM", "--machine="+fmt.Sprintf("supervisor-test-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6), "/supervisor")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cgrouptest.New(t)(cmd)
	// nspawn splits the cgroup it starts in: not the test's own.
	defer cgrouptest.CheckUnsplit(t)()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if sig != nil {
		p.waitReady(t)
		cmd.Process.Signal(sig)
	}
	err := cmd.Wait()
	res := result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running systemd-nspawn: %v", err)
	}
	t.Logf("exit %d in %v\nstdout:\n%sstderr:\n%s", res.code, res.elapsed, res.stdout, res.stderr)
	return res
}

func findNspawn(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-nspawn")
	if err != nil {
		t.Skip("systemd-nspawn is not installed")
	}
	return p
}

func TestPodUnderNspawn(t *testing.T) {
	needRoot(t)
	nspawn := findNspawn(t)
	p := &testPod{
		volumes: []types.Volume{{Name: "data", Kind: "host", Source: "/srv/data"}},
		apps: []testApp{
			{name: "a", exec: sh(strings.Join([]string{
				`test -e /proc/self/status && echo proc-ok`,
				`echo x > /dev/null && test -c /dev/urandom && test -d /dev/pts && echo dev-ok`,
				`touch /sys/x 2>/dev/null && echo sys-writable || echo sys-readonly`,
				`echo v > /data/v && echo vol-ok`,
				`exit 5`,
			}, "; ")), mounts: []schema.Mount{{Volume: "data", Path: "/data"}}},
			{name: "b", exec: []string{"/bin/sleep", "100"}},
		},
	}
	p.make(t)
	res := p.runNspawn(t, nspawn, nil)
	if res.code != 5 {
		t.Errorf("exit code %d, want 5", res.code)
	}
	for _, l := range []string{"proc-ok", "dev-ok", "sys-readonly", "vol-ok"} {
		if !regexp.MustCompile(`(?m)^a\[\d+\]: ` + l + `\r?$`).MatchString(res.stdout) {
			t.Errorf("stdout lacks a[pid]: %s", l)
		}
	}
	if got, ok := p.status(t, "a"); !ok || got != 5 {
		t.Errorf("status of a: %d (%v)", got, ok)
	}
}

func TestPodUnderNspawnSIGTERM(t *testing.T) {
	needRoot(t)
	nspawn := findNspawn(t)
	p := &testPod{apps: []testApp{{
		name: "s", exec: []string{"/bin/sleep", "100"},
		handlers: []types.EventHandler{{Name: "post-stop", Exec: sh("echo post > /post-ran")}},
	}}}
	p.make(t)
	res := p.runNspawn(t, nspawn, syscall.SIGTERM)
	if res.code != 0 || res.elapsed > 8*time.Second {
		t.Errorf("exit code %d after %v, want 0 soon after SIGTERM", res.code, res.elapsed)
	}
	if _, err := os.Stat(p.rootfsFile("s", "post-ran")); err != nil {
		t.Errorf("post-stop did not run: %v", err)
	}
}

// readNotify reads one datagram from the service manager's side of a
// notify socket.
func readNotify(conn *net.UnixConn, within time.Duration) (string, error) {
	conn.SetReadDeadline(time.Now().Add(within))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	return string(buf[:n]), err
}

func listenNotify(t *testing.T, p *testPod) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(p.dir, "notify.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestPodNotifyReady(t *testing.T) {
	needRoot(t)
	p := &testPod{apps: []testApp{{name: "s", exec: []string{"/bin/sleep", "100"}}}}
	p.make(t)
	conn := listenNotify(t, p)
	r := p.start(t, []string{"NOTIFY_SOCKET=/notify.sock"}, nil)
	msg, err := readNotify(conn, 20*time.Second)
	if err != nil || msg != "READY=1" {
		t.Errorf("got %q, %v; want READY=1", msg, err)
	}
	if _, err := os.Readlink(filepath.Join(p.dir, "rkt/supervisor-status")); err != nil {
		t.Errorf("READY=1 before supervisor-status: %v", err)
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	if msg, _ := readNotify(conn, 20*time.Second); msg != "STOPPING=1" {
		t.Errorf("got %q, want STOPPING=1", msg)
	}
	if res := r.wait(t); res.code != 0 {
		t.Errorf("exit code %d", res.code)
	}
}

// An app annotated as supporting sd_notify decides when the pod is ready.
func TestPodNotifyRelay(t *testing.T) {
	needRoot(t)
	p := &testPod{apps: []testApp{
		{
			name: "n", exec: []string{"/bin/notifier"}, notifier: true, user: "app", group: "grp",
			annotations: types.Annotations{{Name: AnnotationSupportsNotify, Value: "true"}},
		},
		{name: "plain", exec: []string{"/bin/sleep", "100"}},
	}}
	p.make(t)
	conn := listenNotify(t, p)
	r := p.start(t, []string{"NOTIFY_SOCKET=/notify.sock"}, nil)
	p.waitReady(t)
	// The notifier cannot send READY=1 before /go exists, so nothing may
	// arrive yet: every app runs, but the notify app is not ready.
	if msg, err := readNotify(conn, 300*time.Millisecond); err == nil {
		t.Fatalf("got %q before the app was ready", msg)
	}
	if err := os.WriteFile(p.rootfsFile("n", "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := readNotify(conn, 20*time.Second); err != nil || msg != "READY=1" {
		t.Errorf("got %q, %v; want READY=1", msg, err)
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	res := r.wait(t)
	if res.code != 0 || !regexp.MustCompile(`(?m)^n\[\d+\]: notified$`).MatchString(res.stdout) {
		t.Errorf("exit code %d, stdout %q", res.code, res.stdout)
	}
	env, _ := os.ReadFile(filepath.Join(p.dir, "rkt/env/n"))
	if !strings.Contains(string(env), "NOTIFY_SOCKET="+notifySocketInApp+"\n") {
		t.Errorf("rkt/env/n lacks NOTIFY_SOCKET:\n%s", env)
	}
}

func TestPodInteractive(t *testing.T) {
	needRoot(t)
	p := &testPod{
		apps: []testApp{{name: "i", exec: sh(`test -t 0 && echo stdin-is-tty; read line; echo "got-$line"; exit 4`)}},
		rc:   podlayout.RuntimeConfig{Interactive: true},
	}
	p.make(t)
	master, slave := ptytest.Open(t)
	r := p.start(t, []string{"TERM=xterm"}, slave)
	var out bytes.Buffer
	found := make(chan struct{})
	go func() {
		buf := make([]byte, 1024)
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			if strings.Contains(out.String(), "got-hello") {
				close(found)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	p.waitReady(t)
	master.Write([]byte("hello\n"))
	select {
	case <-found:
	case <-time.After(20 * time.Second):
		t.Fatalf("no answer on the terminal; read %q", out.String())
	}
	res := r.wait(t)
	if res.code != 4 || !strings.Contains(out.String(), "stdin-is-tty") {
		t.Errorf("exit %d, terminal output %q", res.code, out.String())
	}
}

// TestPodStopSignal: an app whose image names a stop signal gets it, not
// SIGTERM, when the pod is stopped.
func TestPodStopSignal(t *testing.T) {
	needRoot(t)
	p := &testPod{apps: []testApp{{
		name:        "s",
		exec:        sh(`trap "echo got-usr1; exit 7" USR1; trap "echo got-term; exit 9" TERM; : > /trapped; while :; do sleep 0.1; done`),
		annotations: types.Annotations{{Name: podlayout.AnnotationStopSignal, Value: "SIGUSR1"}},
	}}}
	p.make(t)
	r := p.start(t, nil, nil)
	p.waitFile(t, p.rootfsFile("s", "trapped"))
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	res := r.wait(t)
	if got, ok := p.status(t, "s"); !ok || got != 7 {
		t.Errorf("status %d (%v), want 7 from the SIGUSR1 trap\nstdout: %s", got, ok, res.stdout)
	}
}

// TestPodUserPrimaryGroup: an app whose pod manifest says the group is
// the user's primary one (an OCI image's USER without a group) runs with
// the gid /etc/passwd gives the user, and 0 for a uid it does not list.
func TestPodUserPrimaryGroup(t *testing.T) {
	needRoot(t)
	marker := types.Annotations{{Name: podlayout.AnnotationGroupFromPasswd, Value: "true"}}
	p := &testPod{apps: []testApp{
		{name: "named", user: "app", group: "0", podAnns: marker, exec: sh(`echo "named $(id -u) $(id -g)"`)},
		{name: "byuid", user: "1000", group: "0", podAnns: marker, exec: sh(`echo "byuid $(id -u) $(id -g)"`)},
		{name: "unlisted", user: "4321", group: "0", podAnns: marker, exec: sh(`echo "unlisted $(id -u) $(id -g)"`)},
		{name: "plain", user: "app", group: "0", exec: sh(`echo "plain $(id -u) $(id -g)"`)},
	}}
	p.make(t)
	res := p.run(t, nil)
	for _, want := range []string{"named 1000 1001", "byuid 1000 1001", "unlisted 4321 0", "plain 1000 0"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, res.stdout)
		}
	}
}
