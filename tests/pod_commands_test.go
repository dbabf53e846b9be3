package tests

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
)

// sleeper is a script that runs until SIGTERM (busybox sh runs a trap only
// between commands, hence the short sleeps). If /log is mounted, it writes
// /log/up once its trap is set and /log/term when it gets SIGTERM.
const sleeper = `trap 'echo got-term > /log/term 2>/dev/null; exit 0' TERM
echo sleeper-up; echo up > /log/up 2>/dev/null
i=0; while [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done`

// TestPodListStatus checks list and status of a running, then exited pod.
func TestPodListStatus(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.shImage("sleeper", sleeper)
	uuid, wait := pe.startPod(img)

	// The pod is "running" from the moment stage0 locks it; its PID 1
	// exists once the supervisor is up.
	pe.ok("status", "--wait-ready=30s", uuid)
	st := pe.status(uuid)
	if pid, err := strconv.Atoi(st["pid"]); err != nil || pid <= 0 {
		t.Errorf("status of a running pod: pid=%q, want a pid", st["pid"])
	}
	if st["created"] == "" || st["started"] == "" {
		t.Errorf("status of a running pod lacks created/started: %v", st)
	}

	out := pe.ok("list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "UUID") {
		t.Fatalf("list: want a header and one row, got:\n%s", out)
	}
	for _, col := range []string{"APP", "IMAGE NAME", "STATE", "CREATED", "STARTED", "NETWORKS"} {
		if !strings.Contains(lines[0], col) {
			t.Errorf("list header %q lacks %s", lines[0], col)
		}
	}
	row := strings.Fields(lines[1])
	if len(row) < 4 || !strings.HasPrefix(uuid, row[0]) || row[1] != "sleeper" || row[2] != pe.name("sleeper")+":1.0" || row[3] != "running" {
		t.Errorf("list row %q: want short UUID, sleeper, %s:1.0, running", lines[1], pe.name("sleeper"))
	}
	if out := pe.ok("list", "--no-legend", "--full"); !strings.HasPrefix(out, uuid) {
		t.Errorf("list --no-legend --full: want the full UUID first, got %q", out)
	}
	js := pe.ok("list", "--format=json")
	if strings.Count(strings.TrimSpace(js), "\n") != 0 {
		t.Errorf("list --format=json is not one line: %q", js)
	}
	var pods []map[string]any
	if err := json.Unmarshal([]byte(js), &pods); err != nil || len(pods) != 1 {
		t.Fatalf("list --format=json = %q (%v), want one pod", js, err)
	}
	if pods[0]["name"] != uuid || pods[0]["state"] != "running" {
		t.Errorf("list --format=json: %v, want name=%s state=running", pods[0], uuid)
	}
	// Each app in rkt 1.30's api/v1 shape, with its state.
	if apps, _ := pods[0]["apps"].([]any); len(apps) != 1 {
		t.Errorf("list --format=json apps: %v, want one", pods[0]["apps"])
	} else if app, _ := apps[0].(map[string]any); app["state"] != "running" || !strings.HasPrefix(fmt.Sprint(app["image_id"]), "sha512-") {
		t.Errorf("list --format=json app: %v, want state running and its image_id", app)
	}

	// status --wait returns once the pod has exited.
	done := make(chan map[string]string, 1)
	go func() { done <- pe.status(uuid, "--wait=30s") }()
	time.Sleep(300 * time.Millisecond)
	select {
	case st := <-done:
		t.Fatalf("status --wait returned while the pod ran: %v", st)
	default:
	}
	pe.ok("stop", uuid)
	select {
	case st := <-done:
		if st["state"] != "exited" || st["app-sleeper"] != "0" {
			t.Errorf("status --wait after stop: %v, want state=exited app-sleeper=0", st)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("status --wait did not return after the pod was stopped")
	}
	if code, _ := wait(); code != 0 {
		t.Errorf("rkt run of a pod stopped gracefully (app exits 0 on SIGTERM): exit %d, want 0", code)
	}
	if out := pe.ok("list", "--no-legend"); !strings.Contains(out, "exited") {
		t.Errorf("list after stop: want the pod exited, got %q", out)
	}
}

// TestPodStopGraceful stops a pod: its app gets SIGTERM, post-stop still
// runs, and rkt run returns.
func TestPodStopGraceful(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	logDir := filepath.Join(pe.base, "log")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	img := pe.busyboxImage("sleeper", []string{"/bin/sh", "-c", sleeper}, withLogVolume(
		"/bin/sh", "-c", "echo post-stop-ran > /log/post"))
	uuid, wait := pe.startPod("--volume=log,kind=host,source="+logDir, img)
	// Ready means the app was started, not that its shell has set its
	// trap: /log/up says it has.
	waitOutFile(t, filepath.Join(logDir, "up"), 30*time.Second, nil)
	pe.ok("stop", uuid)
	if code, _ := wait(); code != 0 {
		t.Errorf("rkt run after a graceful stop: exit %d, want 0", code)
	}
	for _, f := range []string{"term", "post"} {
		if _, err := os.Stat(filepath.Join(logDir, f)); err != nil {
			t.Errorf("after stop: /log/%s missing (app got SIGTERM, post-stop ran): %v", f, err)
		}
	}
	if st := pe.status(uuid); st["state"] != "exited" {
		t.Errorf("state after stop = %q, want exited", st["state"])
	}
}

// TestPodStopRightAfterStart stops a pod as soon as `rkt status` says it
// runs, before its apps may be up: the stop must not be lost.
func TestPodStopRightAfterStart(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	uuid, wait := pe.startPod(pe.shImage("sleeper", sleeper))
	pe.ok("stop", uuid)
	done := make(chan int, 1)
	go func() { c, _ := wait(); done <- c }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Errorf("rkt stop right after the pod started: the pod still runs 30s later (the SIGTERM was lost)")
		pe.ok("stop", "--force", uuid)
	}
}

// TestPodStopForce kills a pod whose app ignores SIGTERM.
func TestPodStopForce(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.shImage("stubborn", `trap '' TERM; echo up; i=0; while [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done`)
	uuid, wait := pe.startPod(img)
	start := time.Now()
	pe.ok("stop", "--force", uuid)
	code, _ := wait()
	if code == 0 {
		t.Errorf("rkt run of a force-stopped pod exited 0")
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("stop --force took %v to end the pod, want it killed at once", d)
	}
	if st := pe.status(uuid); st["state"] != "exited" {
		t.Errorf("state after stop --force = %q, want exited", st["state"])
	}
}

// TestPodEnter runs commands inside a running pod's app.
func TestPodEnter(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.busyboxImage("sleeper", []string{"/bin/sh", "-c", sleeper}, nil,
		fileOf("etc/inside", "inside-the-app\n"))
	uuid, _ := pe.startPod(img)
	out := pe.ok("enter", "--app=sleeper", uuid, "/bin/cat", "/etc/inside")
	if strings.TrimSpace(out) != "inside-the-app" {
		t.Errorf("enter cat /etc/inside printed %q, want the app's file", out)
	}
	// Without --app in a one-app pod; sees the app's processes.
	out = pe.ok("enter", uuid, "/bin/sh", "-c", "ps -o args | grep -c '[s]leep 0.1' >/dev/null && echo sees-app; hostname")
	if !strings.Contains(out, "sees-app") {
		t.Errorf("enter does not see the app's processes:\n%s", out)
	}
	if !strings.Contains(out, "rkt-"+uuid) {
		t.Errorf("hostname in the pod: want the default rkt-%s in %q", uuid, out)
	}
	_, code := pe.enterCode(uuid, "/bin/sh", "-c", "exit 3")
	if code != 3 {
		t.Errorf("enter of a command exiting 3: exit %d, want 3", code)
	}
	pe.ok("stop", uuid)
}

func (pe *podEnv) enterCode(uuid string, cmd ...string) (string, int) {
	pe.t.Helper()
	out, _, code := rkt(pe.t, pe.env, append([]string{"enter", uuid}, cmd...)...)
	return out, code
}

// TestPodRmGCCatManifestExport covers the commands on exited pods.
func TestPodRmGCCatManifestExport(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.shImage("maker", "echo made-in-pod > /made")
	a, _, _, code := pe.runSaved(img)
	if code != 0 {
		t.Fatalf("run: exit %d", code)
	}
	b, _, _, _ := pe.runSaved(img)

	// cat-manifest
	var pm struct {
		ACKind string `json:"acKind"`
		Apps   []struct {
			Name  string `json:"name"`
			Image struct {
				Name string `json:"name"`
				ID   string `json:"id"`
			} `json:"image"`
		} `json:"apps"`
	}
	out := pe.ok("cat-manifest", a)
	if err := json.Unmarshal([]byte(out), &pm); err != nil {
		t.Fatalf("cat-manifest: %v\n%s", err, out)
	}
	if pm.ACKind != "PodManifest" || len(pm.Apps) != 1 || pm.Apps[0].Name != "maker" || pm.Apps[0].Image.Name != pe.name("maker") || !fullIDRe.MatchString(pm.Apps[0].Image.ID) {
		t.Errorf("cat-manifest: %+v, want one app maker of image %s with its ID", pm, pe.name("maker"))
	}

	// export: an ACI of the app's rootfs as the pod left it.
	outACI := filepath.Join(pe.base, "exported.aci")
	pe.ok("export", a, outACI)
	names := tarNames(t, outACI)
	if !names["manifest"] || !names["rootfs/made"] || !names["rootfs/bin/busybox"] {
		t.Errorf("export: the ACI lacks manifest, rootfs/made (written by the app) or rootfs/bin/busybox: %d entries", len(names))
	}
	if _, stderr := pe.fails(254, "export", a, outACI); !strings.Contains(stderr, "exist") {
		t.Errorf("export over an existing file without --overwrite: %s", stderr)
	}

	// rm removes one exited pod and everything under it.
	pe.ok("rm", a)
	if d := pe.podDir(a); d != "" {
		t.Errorf("rm left the pod dir %s", d)
	}
	if d := pe.podDir(b); d == "" {
		t.Errorf("rm of %s removed the other pod %s too", a, b)
	}
	// gc with no grace period removes the other at once.
	pe.ok("gc", "--grace-period=0s")
	pe.assertClean("after rm and gc")
	if out := pe.ok("list", "--no-legend"); strings.TrimSpace(out) != "" {
		t.Errorf("list after gc: %q, want no pods", out)
	}
}

// TestPodRmRunning refuses to remove a running pod.
func TestPodRmRunning(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	uuid, _ := pe.startPod(pe.shImage("sleeper", sleeper))
	if _, _, code := rkt(t, pe.env, "rm", uuid); code == 0 {
		t.Errorf("rm of a running pod succeeded")
	}
	pe.ok("gc", "--grace-period=0s")
	if st := pe.status(uuid); st["state"] != "running" {
		t.Errorf("after rm and gc, the running pod is %q, want still running", st["state"])
	}
	pe.ok("stop", uuid)
}

// TestPodGCAfterKilledStage1 kills the nspawn process of a running pod
// with SIGKILL; gc must then leave no mount, process or directory.
func TestPodGCAfterKilledStage1(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	vol := filepath.Join(pe.base, "vol")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	img := pe.busyboxImage("sleeper", []string{"/bin/sh", "-c", sleeper}, withLogVolume())
	uuid, wait := pe.startPod("--volume=log,kind=host,source="+vol, "--volume=scratch,kind=empty", img, "--mount=volume=scratch,target=/scratch")
	dir := pe.podDir(uuid)
	// The pod is running from the moment stage0 locks it; the nspawn
	// stage1 writes ppid a moment later.
	b := waitOutFile(t, filepath.Join(dir, "ppid"), 10*time.Second, nil)
	nspawn, err := strconv.Atoi(strings.TrimSpace(b))
	if err != nil || nspawn <= 1 {
		t.Fatalf("ppid = %q", b)
	}
	if err := syscall.Kill(nspawn, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the pod's nspawn process %d: %v", nspawn, err)
	}
	wait()
	// The pod is no longer running: its lock went with the process.
	deadline := time.Now().Add(20 * time.Second)
	for pe.status(uuid)["state"] == "running" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	pe.ok("gc", "--grace-period=0s")
	pe.assertClean("gc after SIGKILL of nspawn")
	if _, err := os.Stat(vol); err != nil {
		t.Errorf("gc removed the host volume's source: %v", err)
	}
}

// withLogVolume declares the mount point /log (volume "log") and, when
// given, a post-stop handler.
func withLogVolume(postStop ...string) func(im *schema.ImageManifest) {
	return func(im *schema.ImageManifest) {
		im.App.MountPoints = append(im.App.MountPoints, types.MountPoint{Name: "log", Path: "/log"})
		if len(postStop) > 0 {
			im.App.EventHandlers = append(im.App.EventHandlers, types.EventHandler{Name: "post-stop", Exec: postStop})
		}
	}
}

// tarNames lists the entry names of an (uncompressed) tar file.
func tarNames(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatalf("reading %s as a tar: %v", path, err)
		}
		names[strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = true
	}
}
