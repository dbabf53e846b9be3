package image_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/common/entrypoint"
	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/common/tarsafe"
	"github.com/rkt/rkt/stage1/image"
	"github.com/rkt/rkt/stage1/isolation/cgroups/cgrouptest"
)

const busybox = "/bin/busybox"

// needRoot skips tests that run real pods when they cannot.
func needRoot(t testing.TB, flavor string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running pods needs root")
	}
	if _, err := os.Stat(busybox); err != nil {
		t.Skip("the test app is built from " + busybox + ", which is missing")
	}
	if flavor == image.FlavorNspawn {
		if _, err := exec.LookPath("systemd-nspawn"); err != nil {
			t.Skip("systemd-nspawn is not installed")
		}
	}
}

func newUUID(t testing.TB) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// testPod is a pod directory laid out by hand as stage0 would: the stage1
// image extracted, one busybox app, the pod manifest and runtime-config.
type testPod struct {
	dir, uuid, flavor string
	lock              *flock.Lock
}

// layoutPod makes a pod of one app "app" running exec. The pod directory
// is created outside t.TempDir when the caller wants to keep it.
func layoutPod(t testing.TB, aci, flavor string, exec []string, volumes ...types.Volume) *testPod {
	t.Helper()
	uuid := newUUID(t)
	dir := filepath.Join(t.TempDir(), uuid)
	stage1 := filepath.Join(dir, "stage1")
	if err := os.MkdirAll(stage1, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(aci)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tarsafe.Extract(f, stage1, tarsafe.Options{})
	f.Close()
	if err != nil {
		t.Fatalf("extracting the stage1 image: %v", err)
	}
	rootfs := podlayout.AppRootfs(dir, "app")
	if err := os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	bb, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"sh", "true", "echo", "sleep", "cat", "id", "pwd", "hostname"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(rootfs, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "etc", "group"), []byte("root:x:0:\nusers:x:100:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	app := types.App{Exec: exec, User: "0", Group: "0"}
	im := schema.BlankImageManifest()
	im.Name = "example.com/busybox"
	im.App = &app
	imData, err := json.Marshal(im)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(podlayout.AppImageManifest(dir, "app"), imData, 0o644); err != nil {
		t.Fatal(err)
	}
	id, err := types.NewHash("sha512-" + strings.Repeat("ab", 64))
	if err != nil {
		t.Fatal(err)
	}
	pm := schema.BlankPodManifest()
	pm.Apps = schema.AppList{{Name: "app", Image: schema.RuntimeImage{Name: &im.Name, ID: *id}, App: &app}}
	pm.Volumes = volumes
	for _, v := range volumes {
		pm.Apps[0].Mounts = append(pm.Apps[0].Mounts, schema.Mount{Volume: v.Name, Path: "/mnt/" + v.Name.String()})
	}
	pmData, err := json.Marshal(pm)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(podlayout.PodManifest(dir), pmData, 0o644); err != nil {
		t.Fatal(err)
	}
	rc := podlayout.RuntimeConfig{UUID: uuid, Hostname: "rkt-" + uuid, NetList: []string{"none"}}
	if err := rc.Write(podlayout.RuntimeConfigPath(dir)); err != nil {
		t.Fatal(err)
	}
	return &testPod{dir: dir, uuid: uuid, flavor: flavor}
}

// start runs the pod's run entrypoint as stage0 does: cwd = the pod
// directory, the pod directory locked and its descriptor in RKT_LOCK_FD.
// The test's own lock descriptor is closed once the child has it.
func (p *testPod) start(t testing.TB, stdout, stderr *bytes.Buffer) *exec.Cmd {
	t.Helper()
	lock, err := flock.LockPath(p.dir, flock.Exclusive, false, false)
	if err != nil {
		t.Fatal(err)
	}
	run := "/init"
	if p.flavor == image.FlavorFly {
		run = "/run"
	}
	ra := entrypoint.RunArgs{Net: []string{"none"}, UUID: p.uuid}
	cmd := exec.Command(filepath.Join(podlayout.Stage1Rootfs(p.dir), run), ra.Args(entrypoint.InterfaceVersionNspawn)...)
	cmd.Dir = p.dir
	cmd.ExtraFiles = []*os.File{lock.File()}
	cmd.Env = append(os.Environ(), entrypoint.EnvLockFD+"=3")
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lock.Close()
	// Cleanups run last first: the pod is stopped, then its gc entrypoint
	// releases what the pod holds on the host (its network namespace and
	// cgroups), as stage0's gc would; it is idempotent.
	t.Cleanup(func() { p.entrypoint("gc", p.uuid).Run() })
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			p.entrypoint("stop", "--force", p.uuid).Run()
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

func (p *testPod) entrypoint(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(podlayout.Stage1Rootfs(p.dir), name), args...)
	cmd.Dir = p.dir
	return cmd
}

func exitCode(t testing.TB, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("running the pod: %v", err)
	}
	return ee.ExitCode()
}

func readInt(t testing.TB, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", filepath.Base(path), err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s holds %q, want a number", filepath.Base(path), b)
	}
	return n
}

func TestPodExitCodePropagates(t *testing.T) {
	for _, flavor := range []string{image.FlavorNspawn, image.FlavorFly} {
		t.Run(flavor, func(t *testing.T) {
			needRoot(t, flavor)
			aci := buildImage(t, flavor)
			for _, code := range []int{0, 7} {
				p := layoutPod(t, aci, flavor, []string{"/bin/sh", "-c", fmt.Sprintf("echo out-$AC_APP_NAME; exit %d", code)})
				var stdout, stderr bytes.Buffer
				cmd := p.start(t, &stdout, &stderr)
				got := exitCode(t, cmd.Wait())
				if got != code {
					t.Fatalf("exit code %d, want %d; stderr:\n%s", got, code, stderr.String())
				}
				if !strings.Contains(stdout.String(), "out-app") {
					t.Errorf("the app's output did not reach stdout: %q (stderr %q)", stdout.String(), stderr.String())
				}
				// A quiet pod prints nothing of its own: no nspawn notices
				// (--quiet, log level err) and no cleanup errors.
				if stderr.Len() != 0 {
					t.Errorf("stderr of a successful quiet pod: %q", stderr.String())
				}
				switch flavor {
				case image.FlavorNspawn:
					// ppid is the process stage0 started (init execs nspawn).
					if got := readInt(t, filepath.Join(p.dir, podlayout.PpidFile)); got != cmd.Process.Pid {
						t.Errorf("ppid = %d, want %d", got, cmd.Process.Pid)
					}
					st, err := podlayout.ReadAppStatus(podlayout.AppStatusPath(p.dir, "app"))
					if err != nil || st != code {
						t.Errorf("app status = %d, %v; want %d", st, err, code)
					}
				case image.FlavorFly:
					// The app is exec'd: its pid is the one stage0 started.
					for _, f := range []string{podlayout.PidFile, podlayout.PgidFile} {
						if got := readInt(t, filepath.Join(p.dir, f)); got != cmd.Process.Pid {
							t.Errorf("%s = %d, want %d", f, got, cmd.Process.Pid)
						}
					}
				}
				if held, err := flock.Held(p.dir); err != nil || held {
					t.Errorf("the pod lock is still held after the pod exited (%v, %v)", held, err)
				}
			}
		})
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitExit waits for cmd, failing the test after d.
func waitExit(t testing.TB, cmd *exec.Cmd, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("the pod did not exit within %v", d)
		return nil
	}
}

// processesWithArg lists the pids whose command line holds arg.
func processesWithArg(arg string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte("\x00"+arg+"\x00")) {
			out = append(out, pid)
		}
	}
	return out
}

// onlyChild returns the only child of pid, as stage0 finds an nspawn pod's PID 1.
func onlyChild(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 1 {
		return 0, false
	}
	c, err := strconv.Atoi(f[0])
	return c, err == nil
}

func TestPodStopForceKillsEverything(t *testing.T) {
	for _, flavor := range []string{image.FlavorNspawn, image.FlavorFly} {
		t.Run(flavor, func(t *testing.T) {
			needRoot(t, flavor)
			aci := buildImage(t, flavor)
			marker := strconv.Itoa(100000 + int(time.Now().UnixNano()%800000))
			p := layoutPod(t, aci, flavor, []string{"/bin/sleep", marker})
			var stdout, stderr bytes.Buffer
			cmd := p.start(t, &stdout, &stderr)
			waitFor(t, "the app to start", 10*time.Second, func() bool { return len(processesWithArg(marker)) == 1 })
			if held, err := flock.Held(p.dir); err != nil || !held {
				t.Fatalf("the pod lock is not held while the pod runs (%v, %v)", held, err)
			}
			if err := p.entrypoint("stop", "--force", p.uuid).Run(); err != nil {
				t.Fatalf("stop --force: %v", err)
			}
			if err := waitExit(t, cmd, 10*time.Second); err == nil {
				t.Errorf("the pod exited with 0 after stop --force; want a failure")
			}
			waitFor(t, "the app to be gone", 5*time.Second, func() bool { return len(processesWithArg(marker)) == 0 })
			if held, err := flock.Held(p.dir); err != nil || held {
				t.Errorf("the pod lock is still held after stop --force (%v, %v)", held, err)
			}
			if err := p.entrypoint("gc", p.uuid).Run(); err != nil {
				t.Errorf("gc: %v", err)
			}
		})
	}
}

func TestNspawnStopIsGraceful(t *testing.T) {
	needRoot(t, image.FlavorNspawn)
	p := layoutPod(t, buildImage(t, image.FlavorNspawn), image.FlavorNspawn, []string{"/bin/sleep", "1000"})
	var stdout, stderr bytes.Buffer
	cmd := p.start(t, &stdout, &stderr)
	waitFor(t, "the pod to be ready", 10*time.Second, func() bool {
		_, err := os.Readlink(podlayout.SupervisorStatusPath(p.dir))
		return err == nil
	})
	start := time.Now()
	if err := p.entrypoint("stop", p.uuid).Run(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	waitExit(t, cmd, 8*time.Second)
	// SIGTERM reaches the app through nspawn and the supervisor: sleep dies
	// at once, well before the 10 s SIGKILL timeout.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %v; the app did not get SIGTERM", d)
	}
	if _, err := podlayout.ReadAppStatus(podlayout.AppStatusPath(p.dir, "app")); err != nil {
		t.Errorf("no exit status recorded for the stopped app: %v", err)
	}
}

func TestEnterRunsInTheApp(t *testing.T) {
	for _, flavor := range []string{image.FlavorNspawn, image.FlavorFly} {
		t.Run(flavor, func(t *testing.T) {
			needRoot(t, flavor)
			if _, err := exec.LookPath("nsenter"); err != nil {
				t.Skip("nsenter (util-linux) is not installed")
			}
			p := layoutPod(t, buildImage(t, flavor), flavor, []string{"/bin/sleep", "1000"})
			var stdout, stderr bytes.Buffer
			p.start(t, &stdout, &stderr)
			var pid int
			switch flavor {
			case image.FlavorNspawn:
				waitFor(t, "the pod to be ready", 10*time.Second, func() bool {
					_, err := os.Readlink(podlayout.SupervisorStatusPath(p.dir))
					return err == nil
				})
				ppid := readInt(t, filepath.Join(p.dir, podlayout.PpidFile))
				var ok bool
				if pid, ok = onlyChild(ppid); !ok {
					t.Fatalf("nspawn (pid %d) does not have exactly one child", ppid)
				}
			case image.FlavorFly:
				waitFor(t, "the pid file", 10*time.Second, func() bool {
					_, err := os.Stat(filepath.Join(p.dir, podlayout.PidFile))
					return err == nil
				})
				pid = readInt(t, filepath.Join(p.dir, podlayout.PidFile))
			}
			ea := entrypoint.EnterArgs{Pid: pid, AppName: "app", Cmd: []string{"/bin/sh", "-c", "echo in-$AC_APP_NAME; ls /bin/busybox"}}
			out, err := p.entrypoint("enter", ea.Args()...).CombinedOutput()
			if err != nil {
				t.Fatalf("enter: %v\n%s", err, out)
			}
			if got := string(out); !strings.Contains(got, "in-app") || !strings.Contains(got, "/bin/busybox") {
				t.Fatalf("enter output %q: want the app's environment and rootfs", got)
			}
			if err := p.entrypoint("stop", "--force", p.uuid).Run(); err != nil {
				t.Fatalf("stop --force: %v", err)
			}
		})
	}
}

func TestNspawnVolumes(t *testing.T) {
	needRoot(t, image.FlavorNspawn)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "in"), []byte("from-host"), 0o644); err != nil {
		t.Fatal(err)
	}
	ro, mode, zero := true, "0755", 0
	vols := []types.Volume{
		{Name: "data", Kind: "host", Source: host},
		{Name: "rodata", Kind: "host", Source: host, ReadOnly: &ro},
		{Name: "scratch", Kind: "empty", Mode: &mode, UID: &zero, GID: &zero},
	}
	p := layoutPod(t, buildImage(t, image.FlavorNspawn), image.FlavorNspawn,
		[]string{"/bin/sh", "-c", "cat /mnt/data/in && echo written > /mnt/data/out && echo s > /mnt/scratch/f && ! touch /mnt/rodata/x 2>/dev/null"}, vols...)
	var stdout, stderr bytes.Buffer
	if code := exitCode(t, p.start(t, &stdout, &stderr).Wait()); code != 0 {
		t.Fatalf("exit code %d; stdout %q stderr %q", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "from-host") {
		t.Errorf("the host volume's file was not visible: %q", stdout.String())
	}
	if b, err := os.ReadFile(filepath.Join(host, "out")); err != nil || string(b) != "written\n" {
		t.Errorf("the app's write to the host volume: %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(podlayout.SharedVolumeDir(p.dir, "scratch"), "f")); err != nil || string(b) != "s\n" {
		t.Errorf("the app's write to the empty volume: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(host, "x")); err == nil {
		t.Errorf("the app wrote through a read-only volume")
	}
}

func TestFlyUserAndVolume(t *testing.T) {
	needRoot(t, image.FlavorFly)
	host := t.TempDir()
	if err := os.Chmod(host, 0o777); err != nil {
		t.Fatal(err)
	}
	p := layoutPod(t, buildImage(t, image.FlavorFly), image.FlavorFly,
		[]string{"/bin/sh", "-c", "id -u; id -g; echo $HOME; echo hi > /mnt/data/f"},
		types.Volume{Name: "data", Kind: "host", Source: host})
	// Run as "user" by name, resolved from the app's /etc/passwd.
	var pm schema.PodManifest
	b, _ := os.ReadFile(podlayout.PodManifest(p.dir))
	if err := json.Unmarshal(b, &pm); err != nil {
		t.Fatal(err)
	}
	pm.Apps[0].App.User, pm.Apps[0].App.Group = "user", "users"
	b, _ = json.Marshal(pm)
	if err := os.WriteFile(podlayout.PodManifest(p.dir), b, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := exitCode(t, p.start(t, &stdout, &stderr).Wait()); code != 0 {
		t.Fatalf("exit code %d; stderr %q", code, stderr.String())
	}
	if got, want := stdout.String(), "1000\n100\n/home/user\n"; got != want {
		t.Errorf("uid, gid, HOME = %q, want %q", got, want)
	}
	fi, err := os.Stat(filepath.Join(host, "f"))
	if err != nil {
		t.Fatalf("the app's write to the host volume: %v", err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1000 {
		t.Errorf("file written as uid %d, want 1000", st.Uid)
	}
	if err := p.entrypoint("gc", p.uuid).Run(); err != nil {
		t.Errorf("gc: %v", err)
	}
}

// The nspawn flavor's start-up cost against systemd-nspawn alone on the
// same app rootfs (run with -bench, as root). The pod directory is laid
// out once; each iteration is one pod run of /bin/true.
func BenchmarkNspawnPodTrue(b *testing.B) {
	needRoot(b, image.FlavorNspawn)
	p := layoutPod(b, buildImage(b, image.FlavorNspawn), image.FlavorNspawn, []string{"/bin/true"})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var stdout, stderr bytes.Buffer
		if code := exitCode(b, p.start(b, &stdout, &stderr).Wait()); code != 0 {
			b.Fatalf("exit code %d: %s", code, stderr.String())
		}
	}
}

func BenchmarkBareNspawnTrue(b *testing.B) {
	needRoot(b, image.FlavorNspawn)
	p := layoutPod(b, buildImage(b, image.FlavorNspawn), image.FlavorNspawn, []string{"/bin/true"})
	rootfs := podlayout.AppRootfs(p.dir, "app")
	if err := os.MkdirAll(filepath.Join(rootfs, "usr"), 0o755); err != nil {
		b.Fatal(err)
	}
	inCgroup := cgrouptest.New(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command("systemd-nspawn", "-D", rootfs, "--register=no", "--keep-unit", "--quiet", "/bin/true")
		inCgroup(cmd)
		if out, err := cmd.CombinedOutput(); exitCode(b, err) != 0 {
			b.Fatalf("systemd-nspawn: %v: %s", err, out)
		}
	}
}

func BenchmarkFlyPodTrue(b *testing.B) {
	needRoot(b, image.FlavorFly)
	p := layoutPod(b, buildImage(b, image.FlavorFly), image.FlavorFly, []string{"/bin/true"})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var stdout, stderr bytes.Buffer
		if code := exitCode(b, p.start(b, &stdout, &stderr).Wait()); code != 0 {
			b.Fatalf("exit code %d: %s", code, stderr.String())
		}
	}
}
