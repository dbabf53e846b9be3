package tests

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// notAppliedLine returns the line of out that reports isolator name of app
// as not applied, "" when there is none.
func notAppliedLine(out, app, name string) string {
	for _, l := range outputLines(out) {
		if strings.Contains(l, app) && strings.Contains(l, name) && strings.Contains(l, "not applied") {
			return l
		}
	}
	return ""
}

// TestIsoUnsupportedReported: isolators the stage1 cannot apply (two it
// does not implement, a seccomp retain set naming a syscall the baseline
// always denies) are reported on the pod's output,
// never silently dropped, and the pod still runs.
func TestIsoUnsupportedReported(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.isoImage("unsup", `echo unsup-ran`, withIsolators(t,
		"resource/network-bandwidth", `{"default":true,"limit":"1M"}`,
		"resource/block-bandwidth", `{"default":true,"limit":"1M"}`,
		"os/linux/seccomp-retain-set", `{"set":["@rkt/default-whitelist","keyctl"],"errno":"EPERM"}`))
	_, vol := pe.outVolume()
	stdout, stderr, code := pe.run(vol, img)
	out := stdout + stderr
	if code != 0 {
		t.Fatalf("rkt run with unsupported isolators: exit %d, want 0 (reported, not fatal)\n%s", code, out)
	}
	if !strings.Contains(out, "unsup-ran") {
		t.Errorf("the app did not run:\n%s", out)
	}
	for _, name := range []string{"resource/network-bandwidth", "resource/block-bandwidth", "os/linux/seccomp-retain-set"} {
		if notAppliedLine(out, "unsup", name) == "" {
			t.Errorf("no line reports isolator %s of app unsup as not applied:\n%s", name, out)
		}
	}
	if l := notAppliedLine(out, "unsup", "os/linux/seccomp-retain-set"); l != "" && !strings.Contains(l, "keyctl") {
		t.Errorf("the seccomp report does not name the syscall that stays denied (keyctl): %q", l)
	}
}

// TestIsoFlyReportsIsolators: the fly stage1 applies no isolator, and
// says so for each one asked for.
func TestIsoFlyReportsIsolators(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.isoImage("flyiso", `echo fly-ran`, withIsolators(t, "os/linux/no-new-privileges", `true`))
	_, vol := pe.outVolume()
	stdout, stderr, code := rkt(t, pe.env, "run", "--stage1-path="+pe.flyPath, vol, img, "--memory=64M", "--caps-remove=CAP_CHOWN")
	out := stdout + stderr
	if code != 0 {
		t.Fatalf("fly run: exit %d\n%s", code, out)
	}
	for _, name := range []string{"resource/memory", "os/linux/capabilities-remove-set", "os/linux/no-new-privileges"} {
		if notAppliedLine(out, "flyiso", name) == "" {
			t.Errorf("fly: no line reports isolator %s as not applied:\n%s", name, out)
		}
	}
}

// TestIsoPrivateUsers: with --private-users the pod runs in a user
// namespace that does not map the host's root, and the app's files still
// belong to its root, in the app and in rkt enter.
func TestIsoPrivateUsers(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	const own = `echo "owner: $(stat -c %u:%g /bin/busybox)"; touch /tmp/pu-$$ && echo "touch: ok"; rm -f /tmp/pu-$$`
	img := pe.isoImage("pu", reportScript(own))
	_, inApp, inEnter, raw := pe.checkedPod("pu", own, "--private-users", img)
	both(t, inApp, inEnter, raw, func(where string, r report) {
		m := strings.Fields(r["userns"])
		if len(m) != 3 || m[0] != "0" || m[1] == "0" {
			t.Errorf("%s: uid_map %q, want the pod's 0 mapped to a host uid other than 0", where, r["userns"])
		}
		if r["owner"] != "0:0" {
			t.Errorf("%s: /bin/busybox owned by %q, want 0:0 inside the pod", where, r["owner"])
		}
		if r["touch"] != "ok" {
			t.Errorf("%s: root cannot write /tmp in its own rootfs: %q", where, r["touch"])
		}
	})
	if inApp["userns"] != inEnter["userns"] {
		t.Errorf("rkt enter runs with uid_map %q, the app with %q", inEnter["userns"], inApp["userns"])
	}
}

// TestIsoPrivateUsersNoChown: an overlay pod with --private-users gets its
// rootfs without a chown. The app's files belong to its root and it can
// change them, while on the host the image's tree keeps its owners and
// contents, and the pod's upper directory holds only what the app wrote
// (a chown would have copied every file up). An empty volume belongs to
// the owner its flags give, as the pod sees it. rkt export then shows the
// rootfs as the app left it, removals included.
func TestIsoPrivateUsersNoChown(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.shImage("puc", `echo "owner: $(stat -c %u:%g /bin/busybox)"; echo changed >> /etc/passwd && echo "append: ok"; echo new > /new-file && echo "create: ok"; rm /bin/false; rm -r /home && mkdir /home && echo n > /home/only; echo "data: $(stat -c %u:%g /data)"; echo x > /data/f && echo "data-write: ok"`)
	uuid, stdout, stderr, code := pe.runSaved("--private-users", "--volume=v,kind=empty,uid=1000,gid=1100", img, "--mount", "volume=v,target=/data")
	if code != 0 {
		t.Fatalf("rkt run --private-users: exit %d\n%s%s", code, stdout, stderr)
	}
	r := parseReport(stdout)
	if r["owner"] != "0:0" || r["append"] != "ok" || r["create"] != "ok" {
		t.Errorf("in the app: %v, want busybox owned by 0:0 and /etc/passwd and / writable", r)
	}
	if r["data"] != "1000:1100" || r["data-write"] != "ok" {
		t.Errorf("in the app: empty volume owned by %q (writable: %q), want 1000:1100 as its manifest says, and writable", r["data"], r["data-write"])
	}

	pod := pe.podDir(uuid)
	treeID, err := os.ReadFile(filepath.Join(pod, "appsinfo", "puc", "treeStoreID"))
	if err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(pe.dataDir, "cas", "tree", strings.TrimSpace(string(treeID)), "rootfs")
	for _, f := range []string{"bin/busybox", "etc/passwd"} {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(tree, f), &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != 0 || st.Gid != 0 {
			t.Errorf("the image tree's %s is owned by %d:%d on the host, want 0:0 (untouched)", f, st.Uid, st.Gid)
		}
	}
	if b, err := os.ReadFile(filepath.Join(tree, "etc/passwd")); err != nil || strings.Contains(string(b), "changed") {
		t.Errorf("the image tree's /etc/passwd was changed through the pod (%v):\n%s", err, b)
	}

	upper := filepath.Join(pod, "overlay", strings.TrimSpace(string(treeID)), "upper", "puc")
	var files []string
	filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(upper, p)
			files = append(files, rel)
		}
		return nil
	})
	slices.Sort(files)
	for _, f := range files {
		// The app's writes and removals (bin/false is a whiteout), and
		// what the supervisor writes (etc/hosts and the like).
		written := f == "new-file" || f == "home/only" || f == "bin/false"
		if !written && !strings.HasPrefix(f, "etc/") && !strings.HasPrefix(f, "dev/") && !strings.HasPrefix(f, "tmp/") {
			t.Errorf("the pod's upper dir holds %s, which the app did not write (was the rootfs chowned?); all: %v", f, files)
			break
		}
	}
	if !slices.Contains(files, "new-file") || !slices.Contains(files, "etc/passwd") {
		t.Errorf("the pod's upper dir lacks the app's writes: %v", files)
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(upper, "new-file"), &st); err == nil && st.Uid == 0 {
		t.Errorf("the app's new file is owned by host root, want the pod's range")
	}

	out := filepath.Join(pe.base, "exported.aci")
	pe.ok("export", uuid, out)
	names := tarNames(t, out)
	for name, want := range map[string]bool{
		"rootfs/new-file": true, "rootfs/home/only": true, "rootfs/bin/busybox": true,
		"rootfs/bin/false": false, "rootfs/home/user": false,
	} {
		if names[name] != want {
			t.Errorf("export: %s in the ACI = %v, want %v (the app created new-file and home/only, removed bin/false and home/user)", name, names[name], want)
		}
	}
}

// TestIsoIPC: --ipc=parent shares the host's IPC namespace, or, where
// the stage1 cannot do that (systemd-nspawn always makes one), is refused
// with a message naming the flag, never silently ignored; --ipc=private
// and the default give the pod one of its own.
func TestIsoIPC(t *testing.T) {
	t.Parallel()
	host, err := os.Readlink("/proc/self/ns/ipc")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		flag  string
		share bool
	}{{"--ipc=parent", true}, {"--ipc=private", false}, {"", false}} {
		name := strings.TrimPrefix(c.flag, "--")
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pe := newPodEnv(t)
			img := pe.isoImage("ipc", `echo "ipc: $(readlink /proc/self/ns/ipc)" > /out/ipc.tmp; mv /out/ipc.tmp /out/ipc`)
			dir, vol := pe.outVolume()
			args := []string{vol, img}
			if c.flag != "" {
				args = append([]string{c.flag}, args...)
			}
			_, stderr, code := pe.run(args...)
			if code != 0 {
				if !c.share || !strings.Contains(stderr, "--ipc=parent") {
					t.Fatalf("rkt run %s: exit %d\n%s", c.flag, code, stderr)
				}
				return
			}
			r := parseReport(waitOutFile(t, filepath.Join(dir, "ipc"), 5*time.Second, nil))
			if got := r["ipc"]; (got == host) != c.share || got == "" {
				t.Errorf("%s: the app's IPC namespace %q, the host's %q: want shared=%v", c.flag, got, host, c.share)
			}
		})
	}
}

// TestIsoPrivateUsersFallback: where the image store's filesystem cannot
// be idmapped (a ramfs here; an older kernel elsewhere), --private-users
// still runs the pod, as --no-overlay would, and says so.
func TestIsoPrivateUsersFallback(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	if err := os.MkdirAll(pe.dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("ramfs", pe.dataDir, "ramfs", 0, "mode=0755"); err != nil {
		t.Skipf("cannot mount a ramfs: %v", err)
	}
	defer func() {
		// Before the env's own teardown: the pods live on the ramfs.
		pe.ok("gc", "--grace-period=0s")
		if err := unix.Unmount(pe.dataDir, 0); err != nil {
			t.Errorf("unmounting the ramfs data dir: %v", err)
			unix.Unmount(pe.dataDir, unix.MNT_DETACH)
		}
	}()
	img := pe.shImage("puf", `echo "owner: $(stat -c %u:%g /bin/busybox)"; echo "userns: $(head -n 1 /proc/self/uid_map | tr -s ' ' ' ')"; echo new > /new-file && echo "create: ok"`)
	stdout, stderr, code := pe.run("--private-users", img)
	if code != 0 {
		t.Fatalf("rkt run --private-users on a ramfs store: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "warning: --private-users: the image store cannot be idmapped here") ||
		!strings.Contains(stderr, "as --no-overlay does") {
		t.Errorf("rkt run does not say it fell back to a copy:\n%s", stderr)
	}
	r := parseReport(stdout)
	if r["owner"] != "0:0" || r["create"] != "ok" {
		t.Errorf("in the app: %v, want busybox owned by 0:0 and / writable", r)
	}
	if f := strings.Fields(r["userns"]); len(f) != 3 || f[0] != "0" || f[1] == "0" {
		t.Errorf("uid_map %q, want the pod's 0 mapped to a host uid other than 0", r["userns"])
	}
}
