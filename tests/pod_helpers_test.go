package tests

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/rkt/rkt/common/mountinfo"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/stage0/trust/trusttest"
	"github.com/rkt/rkt/stage0/version"
	stage1image "github.com/rkt/rkt/stage1/image"
	"github.com/rkt/rkt/store/storetest"
)

// nspawnPath is the host's systemd-nspawn, which the nspawn stage1 runs.
const nspawnPath = "/usr/bin/systemd-nspawn"

// busyboxApplets are the names linked to /bin/busybox in test images.
var busyboxApplets = []string{
	"sh", "true", "false", "echo", "sleep", "cat", "id", "ls", "pwd", "env",
	"test", "touch", "stat", "mkdir", "printf", "ps", "kill", "grep", "sed",
	"wc", "hostname", "mount", "head", "date", "rm", "readlink", "trap",
}

// Suite-wide stage1 images, built or found once.
var stage1Set struct {
	once sync.Once
	// nspawn and fly are the paths of stage1-nspawn.aci and stage1-fly.aci.
	nspawn, fly string
	// beside is true when they sit beside the rkt binary, where rkt finds
	// them without --stage1-* flags.
	beside bool
	err    error
}

// stage1Images returns the paths of the two stage1 images: beside the rkt
// binary when they are there (make builds them in build/bin), otherwise
// built once for the suite with stage1/image.
func stage1Images(t *testing.T) (nspawn, fly string, beside bool) {
	t.Helper()
	stage1Set.once.Do(func() {
		dir := filepath.Dir(rktBinary)
		n, f := filepath.Join(dir, "stage1-nspawn.aci"), filepath.Join(dir, "stage1-fly.aci")
		if exists(n) && exists(f) {
			stage1Set.nspawn, stage1Set.fly, stage1Set.beside = n, f, true
			return
		}
		// Beside our own build of rkt (suiteDir), they are found by default;
		// beside a given RKT_TEST_BINARY we may not write, so they go to the
		// suite dir and the tests name them with --stage1-path.
		out := suiteDir
		for _, flavor := range []string{stage1image.FlavorNspawn, stage1image.FlavorFly} {
			p := filepath.Join(out, "stage1-"+flavor+".aci")
			if err := stage1image.Build(context.Background(), flavor, version.Version, p); err != nil {
				stage1Set.err = fmt.Errorf("building the stage1 images for the suite: %w", err)
				return
			}
		}
		stage1Set.nspawn = filepath.Join(out, "stage1-nspawn.aci")
		stage1Set.fly = filepath.Join(out, "stage1-fly.aci")
		stage1Set.beside = filepath.Dir(rktBinary) == out
	})
	if stage1Set.err != nil {
		t.Fatal(stage1Set.err)
	}
	return stage1Set.nspawn, stage1Set.fly, stage1Set.beside
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// podEnv is a test env able to run pods: a key trusted for the test's
// prefix and the stage1 flags every run gets.
type podEnv struct {
	*env
	key *trusttest.Key
	// stage1 are the --stage1-* flags given to run and prepare (none when
	// the images are beside the binary and the default flavor is wanted).
	stage1 []string
	// flyPath is the fly stage1 image.
	flyPath string
}

// newPodEnv makes an env for pod tests with the real stage1 images. It
// skips the test when the host lacks systemd-nspawn.
func newPodEnv(t *testing.T) *podEnv {
	t.Helper()
	if _, err := os.Stat(nspawnPath); err != nil {
		t.Skipf("skipping: pods need %s (package systemd-container): %v", nspawnPath, err)
	}
	nspawn, fly, beside := stage1Images(t)
	pe := newBarePodEnv(t)
	pe.flyPath = fly
	if !beside {
		pe.stage1 = []string{"--stage1-path=" + nspawn}
	}
	return pe
}

// newBarePodEnv makes an env for pod tests that bring their own stage1.
// After the test it garbage-collects every pod, then checks (and forcibly
// cleans) mounts and processes left under the test's directory, so that
// one broken test does not break the next.
func newBarePodEnv(t *testing.T) *podEnv {
	t.Helper()
	pe := &podEnv{env: newEnv(t), key: newKey(t)}
	pe.trustPrefix(pe.prefix(), pe.key)
	t.Cleanup(func() { pe.teardown() })
	return pe
}

// teardown runs rkt gc and then removes by force whatever it left, failing
// the test if anything was left: pods must never leak mounts or processes.
func (pe *podEnv) teardown() {
	t := pe.t
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := pe.command(ctx, "gc", "--grace-period=0s")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Logf("teardown: rkt gc --grace-period=0s: %v\n%s", err, b)
	}
	if pids := processesUnder(pe.base); len(pids) != 0 {
		t.Errorf("after gc, processes still run under %s: %v", pe.base, describePids(pids))
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ms := mountsUnder(pe.base); len(ms) != 0 {
		t.Errorf("after gc, mounts remain under %s:\n%s", pe.base, strings.Join(ms, "\n"))
		forceUnmount(pe.base)
	}
}

// run is `rkt run` with the env's stage1 flags placed before the images.
func (pe *podEnv) run(args ...string) (stdout, stderr string, exit int) {
	pe.t.Helper()
	return rkt(pe.t, pe.env, pe.withStage1("run", args)...)
}

func (pe *podEnv) withStage1(cmd string, args []string) []string {
	out := append([]string{cmd}, pe.stage1...)
	return append(out, args...)
}

// runOK is run that must exit 0; it returns stdout.
func (pe *podEnv) runOK(args ...string) string {
	pe.t.Helper()
	out, stderr, code := pe.run(args...)
	if code != 0 {
		pe.t.Fatalf("rkt run %s: exit %d, want 0\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, stderr)
	}
	return out
}

// prepare is `rkt prepare --quiet` that must succeed; it returns the UUID.
func (pe *podEnv) prepare(args ...string) string {
	pe.t.Helper()
	out := pe.ok(pe.withStage1("prepare", append([]string{"--quiet"}, args...))...)
	uuid := strings.TrimSpace(out)
	if !uuidRe.MatchString(uuid) {
		pe.t.Fatalf("prepare --quiet printed %q, want only a UUID", out)
	}
	return uuid
}

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// runSaved runs a pod with --uuid-file-save and returns its UUID with the
// run's output.
func (pe *podEnv) runSaved(args ...string) (uuid, stdout, stderr string, exit int) {
	pe.t.Helper()
	f := filepath.Join(pe.base, fmt.Sprintf("uuid-%d", time.Now().UnixNano()))
	stdout, stderr, exit = pe.run(append([]string{"--uuid-file-save=" + f}, args...)...)
	b, err := os.ReadFile(f)
	if err != nil {
		pe.t.Fatalf("reading the --uuid-file-save file: %v", err)
	}
	uuid = strings.TrimSpace(string(b))
	if !uuidRe.MatchString(uuid) {
		pe.t.Fatalf("--uuid-file-save wrote %q, want a UUID", b)
	}
	return uuid, stdout, stderr, exit
}

// startPod starts `rkt run` in the background (for pods that keep running)
// and returns the pod's UUID once `rkt status` sees it running, and a
// function that waits for rkt to exit and returns its exit code and output.
func (pe *podEnv) startPod(args ...string) (uuid string, wait func() (int, string)) {
	pe.t.Helper()
	return pe.startPodIn(nil, "", args...)
}

// startPodIn is startPod with rkt run's command prepared by in (for
// example to run it in another namespace; nil leaves it as it is), where
// naming that place in the log.
func (pe *podEnv) startPodIn(in func(*exec.Cmd), where string, args ...string) (uuid string, wait func() (int, string)) {
	pe.t.Helper()
	f := filepath.Join(pe.base, fmt.Sprintf("uuid-%d", time.Now().UnixNano()))
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	cmd := pe.command(ctx, pe.withStage1("run", append([]string{"--uuid-file-save=" + f}, args...))...)
	if in != nil {
		in(cmd)
	}
	var out lockedBuffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// Processes of a pod whose stage1 was killed may still hold the output
	// pipes: Wait returns once rkt itself has exited (gc then removes them).
	cmd.WaitDelay = 3 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		pe.t.Fatalf("starting rkt run: %v", err)
	}
	done := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil && !errors.Is(err, exec.ErrWaitDelay) {
			code = -1
		}
		done <- code
	}()
	var once sync.Once
	var code int
	wait = func() (int, string) {
		once.Do(func() {
			select {
			case code = <-done:
			case <-time.After(commandTimeout):
				code = -1
				pe.t.Errorf("rkt run %s: still running after %v", strings.Join(args, " "), commandTimeout)
			}
			cancel()
			pe.t.Logf("%srkt run %s (background)\n-> exit %d\noutput:\n%s", where, strings.Join(args, " "), code, out.String())
		})
		return code, out.String()
	}
	pe.t.Cleanup(func() {
		if cmd.Process != nil {
			cmd.Process.Signal(syscall.SIGTERM)
		}
		wait()
	})
	deadline := time.Now().Add(time.Minute)
	for {
		if b, err := os.ReadFile(f); err == nil && uuidRe.MatchString(strings.TrimSpace(string(b))) {
			uuid = strings.TrimSpace(string(b))
			if pe.status(uuid)["state"] == "running" {
				return uuid, wait
			}
		}
		select {
		case c := <-done:
			done <- c
			_, o := wait()
			pe.t.Fatalf("rkt run exited (%d) before its pod was seen running:\n%s", c, o)
		default:
		}
		if time.Now().After(deadline) {
			pe.t.Fatalf("pod not running after a minute; output so far:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// status parses `rkt status UUID` (key=value lines) quietly: it is polled.
func (pe *podEnv) status(uuid string, flags ...string) map[string]string {
	pe.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := pe.command(ctx, append(append([]string{"status"}, flags...), uuid)...)
	b, err := cmd.Output()
	if err != nil {
		return map[string]string{}
	}
	return parseStatus(string(b))
}

func parseStatus(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// podDir returns the pod's directory under pods/<state>/, "" when it has none.
func (pe *podEnv) podDir(uuid string) string {
	ms, _ := filepath.Glob(filepath.Join(pe.dataDir, "pods", "*", uuid))
	if len(ms) == 0 {
		return ""
	}
	return ms[0]
}

// podDirs lists every pod directory under pods/.
func (pe *podEnv) podDirs() []string {
	ms, _ := filepath.Glob(filepath.Join(pe.dataDir, "pods", "*", "*"))
	return ms
}

// assertClean fails unless no pod directory, mount or process is left
// under the env's directory.
func (pe *podEnv) assertClean(what string) {
	pe.t.Helper()
	if ds := pe.podDirs(); len(ds) != 0 {
		pe.t.Errorf("%s: pod directories left: %v", what, ds)
	}
	if ms := mountsUnder(pe.base); len(ms) != 0 {
		pe.t.Errorf("%s: mounts left under the test dir:\n%s", what, strings.Join(ms, "\n"))
	}
	if pids := processesUnder(pe.base); len(pids) != 0 {
		pe.t.Errorf("%s: processes left under the test dir: %v", what, describePids(pids))
	}
}

// mountsUnder lists the mount points at or under dir.
func mountsUnder(dir string) []string {
	ms, _ := mountinfo.Under(dir)
	return ms
}

// forceUnmount detaches every mount under dir, deepest first.
func forceUnmount(dir string) {
	for range 3 {
		ms := mountsUnder(dir)
		if len(ms) == 0 {
			return
		}
		for _, m := range ms { // deepest first
			syscall.Unmount(m, syscall.MNT_DETACH)
		}
	}
}

// processesUnder lists the processes whose root, cwd or executable lies
// under dir: the apps, supervisors and nspawn processes of pods.
func processesUnder(dir string) []int {
	des, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, d := range des {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == self {
			continue
		}
		for _, l := range []string{"root", "cwd", "exe"} {
			target, err := os.Readlink(filepath.Join("/proc", d.Name(), l))
			if err != nil {
				continue
			}
			if target == dir || strings.HasPrefix(target, dir+"/") {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

func describePids(pids []int) []string {
	var out []string
	for _, pid := range pids {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, fmt.Sprintf("%d %q", pid, strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")))
	}
	return out
}

// Busybox images.

var busyboxBytes struct {
	once sync.Once
	b    []byte
	err  error
}

func busybox(t *testing.T) []byte {
	t.Helper()
	busyboxBytes.once.Do(func() {
		busyboxBytes.b, busyboxBytes.err = os.ReadFile("/bin/busybox")
	})
	if busyboxBytes.err != nil {
		t.Skipf("skipping: test images need a static busybox at /bin/busybox (package busybox-static): %v", busyboxBytes.err)
	}
	return busyboxBytes.b
}

// busyboxFiles is the rootfs of a busybox image: /bin/busybox, its applet
// links, an /etc/passwd and /etc/group with users of their own, /tmp and a
// home directory owned by "user".
func busyboxFiles(t *testing.T) []storetest.File {
	t.Helper()
	fs := []storetest.File{
		{Name: "bin", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "bin/busybox", Body: busybox(t), Mode: 0o755},
	}
	for _, a := range busyboxApplets {
		fs = append(fs, storetest.File{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	}
	fs = append(fs,
		storetest.File{Name: "etc", Typeflag: tar.TypeDir, Mode: 0o755},
		storetest.File{Name: "etc/passwd", Mode: 0o644, Body: []byte(
			"root:x:0:0:root:/root:/bin/sh\n" +
				"user:x:1000:1100:image user:/home/user:/bin/sh\n" +
				"daemon2:x:1234:1234::/:/bin/false\n")},
		storetest.File{Name: "etc/group", Mode: 0o644, Body: []byte(
			"root:x:0:\n" +
				"staff:x:1100:\n" +
				"daemon2:x:1234:\n" +
				"extra:x:2000:user\n")},
		storetest.File{Name: "tmp", Typeflag: tar.TypeDir, Mode: 0o1777},
		storetest.File{Name: "home", Typeflag: tar.TypeDir, Mode: 0o755},
		storetest.File{Name: "home/user", Typeflag: tar.TypeDir, Mode: 0o755, Uid: 1000, Gid: 1100},
		storetest.File{Name: "root", Typeflag: tar.TypeDir, Mode: 0o700},
	)
	return fs
}

// appManifest is a busybox image's manifest: name, the default labels and
// an app running exec as root, changed by mod.
func appManifest(t *testing.T, name string, exec []string, mod func(*schema.ImageManifest)) []byte {
	t.Helper()
	im := schema.BlankImageManifest()
	n, err := types.NewACIdentifier(name)
	if err != nil {
		t.Fatalf("image name %q: %v", name, err)
	}
	im.Name = *n
	for _, k := range []string{"arch", "os", "version"} {
		im.Labels = append(im.Labels, types.Label{Name: types.ACIdentifier(k), Value: defaultLabels[k]})
	}
	im.App = &types.App{Exec: exec, User: "0", Group: "0"}
	if mod != nil {
		mod(im)
	}
	b, err := json.Marshal(im)
	if err != nil {
		t.Fatalf("marshalling the manifest of %s: %v", name, err)
	}
	return b
}

// busyboxImage writes localhost/<slug>/<app> (a busybox rootfs plus extra
// files, app exec as given) and its signature by the env's trusted key into
// the test dir, and returns the image file's path.
func (pe *podEnv) busyboxImage(app string, exec []string, mod func(*schema.ImageManifest), extra ...storetest.File) string {
	pe.t.Helper()
	aci := storetest.BuildACIWithManifest(pe.t, appManifest(pe.t, pe.name(app), exec, mod), append(busyboxFiles(pe.t), extra...)...)
	return pe.writeSigned(app+".aci", aci, pe.key.Sign(pe.t, aci))
}

// shImage is a busybox image whose app runs `/bin/sh -c script`.
func (pe *podEnv) shImage(app, script string) string {
	pe.t.Helper()
	return pe.busyboxImage(app, []string{"/bin/sh", "-c", script}, nil)
}

// outputLines returns the lines of out with carriage returns removed.
func outputLines(out string) []string {
	return strings.Split(strings.ReplaceAll(out, "\r", ""), "\n")
}

// hasLine reports whether some line of out equals line, or ends with it
// after an app-name prefix ("name[pid]: " or "name: ") when prefixed.
func hasLine(out, line string) bool {
	return slices.ContainsFunc(outputLines(out), func(l string) bool {
		return strings.TrimSpace(l) == line || strings.HasSuffix(strings.TrimSpace(l), ": "+line)
	})
}

// lineOf returns the first line of out containing s, "" when none does.
func lineOf(out, s string) string {
	for _, l := range outputLines(out) {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}
