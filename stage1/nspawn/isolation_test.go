package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage1/isolation/caps"
	"github.com/rkt/rkt/stage1/isolation/cgroups"
	"github.com/rkt/rkt/stage1/isolation/isolators"
)

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readTrimmed(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// cgroupTestPod is a pod directory and UUID for a test that creates real
// cgroups (as root).
func cgroupTestPod(t *testing.T) (pod, id string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating cgroups needs root")
	}
	return t.TempDir(), uuid.NewString()
}

// setupTestCgroups is setupCgroups for a test, whose process must not
// move into the pod (gc kills the tree): on a cgroup v2 host the pod goes
// below rktSlice, which holds no process, as on a host without systemd,
// and the test process stays where it is.
func setupTestCgroups(pod, id string, apps []podApp) (*podCgroups, []string, error) {
	h, err := cgroups.Discover()
	if err != nil {
		return nil, nil, err
	}
	if h.Mode() != cgroups.Unified {
		return setupCgroups(pod, id, apps)
	}
	parent, err := h.At(rktSlice)
	if err != nil {
		return nil, nil, err
	}
	if err := parent.Create(cgroups.Resources{}); err != nil {
		return nil, nil, err
	}
	return makeCgroups(pod, id, apps, h.Self(), parent, false)
}

// TestPodPlacement: where the pod's cgroup goes on each kind of host.
func TestPodPlacement(t *testing.T) {
	for _, tt := range []struct {
		mode           cgroups.Mode
		systemd, alone bool
		want           placement
	}{
		{cgroups.Legacy, false, false, inSelf},
		{cgroups.Legacy, true, false, inSelf},
		{cgroups.Hybrid, false, false, inSelf},
		{cgroups.Hybrid, true, false, inSelf},
		{cgroups.Unified, true, true, inSelf},   // rkt run alone in a Delegate=yes unit
		{cgroups.Unified, true, false, inScope}, // a shell, or a unit running more than rkt
		{cgroups.Unified, false, true, inRktSlice},
		{cgroups.Unified, false, false, inRktSlice},
	} {
		if got := podPlacement(tt.mode, tt.systemd, tt.alone); got != tt.want {
			t.Errorf("podPlacement(%v, systemd=%v, alone=%v) = %v, want %v", tt.mode, tt.systemd, tt.alone, got, tt.want)
		}
	}
}

// TestAloneIn: the test process shares its own cgroup with nobody but
// the sleeper it starts there.
func TestAloneIn(t *testing.T) {
	h, err := cgroups.Discover()
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	dir := h.Self().Dirs()[cgroups.UnifiedKey]
	if dir == "" {
		t.Skip("no cgroup v2 hierarchy here")
	}
	sleeper := exec.Command("sleep", "1000")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	if alone, err := aloneIn(dir); err != nil || alone {
		t.Errorf("aloneIn(%s) = %v, %v with a sleeper there, want false", dir, alone, err)
	}
}

// oneAppPod is a pod manifest with one app "app"; extra is JSON appended
// to the RuntimeApp object.
func oneAppPod(t *testing.T, extra string) *schema.PodManifest {
	t.Helper()
	var pm schema.PodManifest
	if err := json.Unmarshal([]byte(`{"acKind":"PodManifest","acVersion":"0.8.11","apps":[{"name":"app",
		"image":{"id":"sha512-0000000000000000000000000000000000000000000000000000000000000000"}`+extra+`}]}`), &pm); err != nil {
		t.Fatal(err)
	}
	return &pm
}

// TestSetupCgroups makes a real pod cgroup on this host: the pod
// manifest's app's memory limit and CPU quota (its isolators replace the
// image's whole, as in rkt 1.30) land on the app's cgroup,
// the record lets gc find it, every hierarchy is bound at /rkt/cgroup,
// and destroyCgroup removes it all.
func TestSetupCgroups(t *testing.T) {
	pod, id := cgroupTestPod(t)
	var im schema.ImageManifest
	if err := json.Unmarshal([]byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/app",
		"app":{"exec":["/bin/true"],"user":"0","group":"0",
		"isolators":[{"name":"resource/memory","value":{"limit":"64Mi"}},{"name":"resource/cpu","value":{"limit":"2"}}]}}`), &im); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, podlayout.AppImageManifest(pod, "app"), &im)
	pm := oneAppPod(t, `,"app":{"exec":["/bin/true"],"user":"0","group":"0",
		"isolators":[{"name":"resource/memory","value":{"limit":"64Mi"}},{"name":"resource/cpu","value":{"limit":"500m"}}]}`)

	apps, err := loadApps(pod, pm)
	if err != nil {
		t.Fatal(err)
	}
	pc, binds, err := setupTestCgroups(pod, id, apps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { destroyCgroup(pod) })
	dirs := pc.pod.Dirs()
	if len(binds) != len(dirs) {
		t.Fatalf("binds %v for hierarchies %v", binds, dirs)
	}
	for key, dir := range dirs {
		want := "--bind=" + escapeBind(dir) + ":" + escapeBind(filepath.Join(podlayout.InPodCgroupDir, key))
		if !slices.Contains(binds, want) {
			t.Errorf("no %s in %v", want, binds)
		}
		if fi, err := os.Stat(filepath.Join(podlayout.Stage1Rootfs(pod), podlayout.InPodCgroupDir, key)); err != nil || !fi.IsDir() {
			t.Errorf("mount point for %s: %v", key, err)
		}
		for _, sub := range []string{"app", "_stage1"} {
			if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
				t.Errorf("%s cgroup in %s: %v", sub, key, err)
			}
		}
	}
	if d, ok := dirs["memory"]; ok {
		if got := readTrimmed(t, filepath.Join(d, "app", "memory.limit_in_bytes")); got != "67108864" {
			t.Errorf("memory.limit_in_bytes = %s", got)
		}
	} else if got := readTrimmed(t, filepath.Join(dirs["unified"], "app", "memory.max")); got != "67108864" {
		t.Errorf("memory.max = %s", got)
	}
	if d, ok := dirs["cpu"]; ok {
		if got := readTrimmed(t, filepath.Join(d, "app", "cpu.cfs_quota_us")); got != "50000" {
			t.Errorf("cpu.cfs_quota_us = %s (the pod manifest's 500m wins over the image's 2)", got)
		}
	} else if got := readTrimmed(t, filepath.Join(dirs["unified"], "app", "cpu.max")); got != "50000 100000" {
		t.Errorf("cpu.max = %s", got)
	}

	if err := destroyCgroup(pod); err != nil {
		t.Fatal(err)
	}
	for key, dir := range dirs {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %s still there (%v)", key, dir, err)
		}
	}
	if _, err := os.Stat(filepath.Join(pod, podlayout.CgroupFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup record still there: %v", err)
	}
	// gc again: nothing to do.
	if err := destroyCgroup(pod); err != nil {
		t.Fatalf("second destroy: %v", err)
	}
}

// TestSetupCgroupsFailure: an app whose cgroup cannot be made (an
// impossible limit) fails the start and leaves no cgroup behind.
func TestSetupCgroupsFailure(t *testing.T) {
	pod, id := cgroupTestPod(t)
	apps := []podApp{{name: "app", spec: isolators.Spec{CPUShares: 1}}}
	if _, _, err := setupTestCgroups(pod, id, apps); err == nil {
		t.Fatal("cpu shares of 1 accepted")
	}
	if _, err := os.Stat(filepath.Join(pod, podlayout.CgroupFile)); err != nil {
		t.Errorf("the record of the half-made cgroup is gone: %v (gc needs it after a crash)", err)
	}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.Contains(line, " - cgroup") {
			matches, _ := filepath.Glob(filepath.Join(f[4], "*", "rkt-"+id))
			direct, _ := filepath.Glob(filepath.Join(f[4], "rkt-"+id))
			if len(matches)+len(direct) > 0 {
				t.Errorf("left behind: %v %v", matches, direct)
			}
		}
	}
}

// enterRoot lays out the in-pod files enter-app reads, under a temp dir
// standing for the stage1 rootfs.
func enterRoot(t *testing.T, insecure []string) string {
	t.Helper()
	root := t.TempDir()
	rc := podlayout.RuntimeConfig{InsecureOptions: insecure}
	writeJSON(t, filepath.Join(root, podlayout.InPodRuntimeConfig), &rc)
	if err := os.MkdirAll(filepath.Join(root, podlayout.InPodEnvDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, podlayout.InPodEnvDir, "app"), []byte("PATH=/bin\nFOO=bar\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"memory", "unified"} {
		d := filepath.Join(root, podlayout.InPodCgroupDir, key, "app")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestEnterSpec(t *testing.T) {
	filter := []unix.SockFilter{{Code: 0x06, K: 0x7fff0000}} // ret ALLOW
	record := func(app string, seccomp []unix.SockFilter, keys ...string) confinement {
		return confinement{
			ExecSpec: caps.ExecSpec{UID: 1000, GID: 1000, Groups: []int{10}, Dir: "/home",
				Caps: caps.Of(caps.Chown), NoNewPrivileges: true, Seccomp: seccomp},
			App: app, CgroupKeys: keys,
		}
	}
	t.Run("confined", func(t *testing.T) {
		root := enterRoot(t, nil)
		writeJSON(t, filepath.Join(root, podlayout.InPodIsolationDir, "app.json"), record("app", filter, "memory", "unified"))
		spec, err := enterSpec(root, "app", []string{"sh", "-c", "id"})
		if err != nil {
			t.Fatal(err)
		}
		if spec.Path != "sh" || !slices.Equal(spec.Args, []string{"sh", "-c", "id"}) {
			t.Errorf("path %q args %q", spec.Path, spec.Args)
		}
		if spec.Root != filepath.Join(root, "opt/stage2/app/rootfs") {
			t.Errorf("root = %s", spec.Root)
		}
		if spec.UID != 1000 || spec.GID != 1000 || spec.Dir != "/home" || !spec.NoNewPrivileges ||
			spec.Caps != caps.Of(caps.Chown) || len(spec.Seccomp) != 1 || !spec.cgroupNS {
			t.Errorf("spec = %+v", spec)
		}
		if !slices.Equal(spec.Env, []string{"PATH=/bin", "FOO=bar"}) {
			t.Errorf("env = %q (want the recorded environment file)", spec.Env)
		}
		for _, key := range []string{"memory", "unified"} {
			if got := readTrimmed(t, filepath.Join(root, podlayout.InPodCgroupDir, key, "app", "cgroup.procs")); got != "0" {
				t.Errorf("%s cgroup.procs = %q, want 0 (the caller)", key, got)
			}
		}
	})
	t.Run("no record", func(t *testing.T) {
		root := enterRoot(t, nil)
		if _, err := enterSpec(root, "app", []string{"true"}); !errors.Is(err, ErrNotConfined) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no filter", func(t *testing.T) {
		root := enterRoot(t, nil)
		writeJSON(t, filepath.Join(root, podlayout.InPodIsolationDir, "app.json"), record("app", nil))
		if _, err := enterSpec(root, "app", []string{"true"}); !errors.Is(err, ErrNotConfined) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no filter, insecure seccomp", func(t *testing.T) {
		root := enterRoot(t, []string{"seccomp"})
		writeJSON(t, filepath.Join(root, podlayout.InPodIsolationDir, "app.json"), record("app", nil))
		spec, err := enterSpec(root, "app", []string{"true"})
		if err != nil || spec.Seccomp != nil || spec.cgroupNS {
			t.Fatalf("spec %+v, err %v", spec, err)
		}
	})
	t.Run("another app's record", func(t *testing.T) {
		root := enterRoot(t, nil)
		writeJSON(t, filepath.Join(root, podlayout.InPodIsolationDir, "app.json"), record("other", filter))
		if _, err := enterSpec(root, "app", []string{"true"}); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("cgroup key escaping", func(t *testing.T) {
		root := enterRoot(t, nil)
		writeJSON(t, filepath.Join(root, podlayout.InPodIsolationDir, "app.json"), record("app", filter, "../memory"))
		if _, err := enterSpec(root, "app", []string{"true"}); err == nil {
			t.Fatal("accepted")
		}
	})
}

func TestMountinfoParsing(t *testing.T) {
	hybrid := []byte(`30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
`)
	if !nsDelegateIn(hybrid) {
		t.Error("nsdelegate not seen")
	}
	if nsDelegateIn([]byte("40 30 0:37 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n")) {
		t.Error("nsdelegate seen where there is none")
	}
	u, s := cgroupMountsIn(hybrid)
	if u != "/sys/fs/cgroup/unified" || s != "/sys/fs/cgroup/systemd" {
		t.Errorf("mounts %q %q", u, s)
	}
	// A hierarchy mounted from a subtree (a cgroup namespace's view) is
	// not one whose paths can be mapped.
	u, s = cgroupMountsIn([]byte("40 30 0:37 /machine.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"))
	if u != "" || s != "" {
		t.Errorf("mounts %q %q", u, s)
	}
}

// TestRemoveMirror removes the empty tree at the pod's place in the
// name=systemd hierarchy, and nothing outside it.
func TestRemoveMirror(t *testing.T) {
	unified, systemd := t.TempDir(), t.TempDir()
	pod := "rkt-" + uuid.NewString()
	for _, d := range []string{pod + "/_stage1/payload", pod + "/_stage1/supervisor", "rkt-other/_stage1"} {
		if err := os.MkdirAll(filepath.Join(systemd, "slice", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := removeMirror(filepath.Join(unified, "slice", pod), unified, systemd); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(systemd, "slice", pod)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("mirror still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(systemd, "slice", "rkt-other", "_stage1")); err != nil {
		t.Errorf("another pod's mirror removed: %v", err)
	}
	if err := removeMirror(filepath.Join(unified, "slice", pod), unified, systemd); err != nil {
		t.Errorf("second removal: %v", err)
	}
	if err := removeMirror(filepath.Join(t.TempDir(), pod), unified, systemd); err != nil {
		t.Errorf("dir outside the unified mount: %v", err)
	}
}

// TestCapabilityFlag: nspawn keeps every capability an app keeps, so
// that a retain set beyond nspawn's own bounding set (CAP_NET_ADMIN) can
// be applied.
func TestCapabilityFlag(t *testing.T) {
	isos := func(js string) types.Isolators {
		var out types.Isolators
		if err := json.Unmarshal([]byte(js), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	retain := podApp{name: "a", isos: isos(`[{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_NET_ADMIN","CAP_KILL"]}}]`)}
	remove := podApp{name: "b", isos: isos(`[{"name":"os/linux/capabilities-remove-set","value":{"set":["CAP_CHOWN"]}}]`)}
	plain := podApp{name: "c"}
	if got := capabilityFlag([]podApp{retain}); got != "--capability=CAP_KILL,CAP_NET_ADMIN" {
		t.Errorf("retain: %q", got)
	}
	want := "--capability=" + strings.Join(caps.Default.Names(), ",")
	if got := capabilityFlag([]podApp{plain}); got != want {
		t.Errorf("default: %q, want %q", got, want)
	}
	got := capabilityFlag([]podApp{remove, retain})
	if !strings.Contains(got, "CAP_NET_ADMIN") || strings.Contains(got, "CAP_CHOWN") || !strings.Contains(got, "CAP_SETUID") {
		t.Errorf("union: %q", got)
	}
	if got := capabilityFlag(nil); got != "" {
		t.Errorf("no apps: %q", got)
	}
}
