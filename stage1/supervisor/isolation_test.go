package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/appc/spec/schema/types"
	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage1/isolation/caps"
	"github.com/rkt/rkt/stage1/isolation/cgroups"
)

// These tests check each isolator from inside the app, as a user would:
// /proc/self/status, a denied syscall's error, masked paths, the cgroup
// the app runs in.

// showStatus prints the app's confinement lines of /proc/self/status.
const showStatus = `busybox grep -E '^(CapEff|CapPrm|CapBnd|CapInh|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status`

func isolator(t *testing.T, name, value string) types.Isolator {
	t.Helper()
	var iso types.Isolator
	js := fmt.Sprintf(`{"name":%q,"value":%s}`, name, value)
	if err := json.Unmarshal([]byte(js), &iso); err != nil {
		t.Fatalf("isolator %s: %v", js, err)
	}
	return iso
}

// statusFields parses "Key:\tvalue" lines, as printed by showStatus.
func statusFields(t *testing.T, out string) map[string]string {
	t.Helper()
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func capHex(s caps.Set) string { return fmt.Sprintf("%016x", uint64(s)) }

// bounding is the test's own bounding set: no app can have more.
func bounding(t *testing.T) caps.Set {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseUint(statusFields(t, string(b))["CapBnd"], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return caps.Set(v)
}

func TestIsolationDefaults(t *testing.T) {
	needRoot(t)
	bnd := bounding(t)
	p := &testPod{apps: []testApp{
		{name: "root", exec: sh(strings.Join([]string{
			showStatus,
			`busybox unshare -m true 2>&1 || echo unshare-denied`,
			`test -c /proc/keys && echo keys-masked`,
			`busybox grep -q ' /proc/sys ro,' /proc/self/mountinfo && echo procsys-ro`,
		}, "; "))},
	}}
	p.make(t)
	res := p.run(t, nil)
	if res.code != 0 {
		t.Fatalf("exit code %d", res.code)
	}
	st := statusFields(t, res.stdout)
	want := capHex(caps.Default & bnd)
	for k, v := range map[string]string{
		"CapEff": want, "CapPrm": want, "CapBnd": want, "CapInh": capHex(0), "CapAmb": capHex(0),
		"NoNewPrivs": "0", "Seccomp": "2",
	} {
		if st[k] != v {
			t.Errorf("%s: %q, want %q", k, st[k], v)
		}
	}
	for _, l := range []string{"Operation not permitted", "unshare-denied", "keys-masked", "procsys-ro"} {
		if !strings.Contains(res.stdout, l) {
			t.Errorf("stdout lacks %q", l)
		}
	}
	if strings.Contains(res.stderr, "not applied") {
		t.Errorf("an app without isolators got a report: %s", res.stderr)
	}

	// The record enter reads: the same capabilities and filter.
	data, err := os.ReadFile(filepath.Join(p.dir, "rkt/isolation/root.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		caps.ExecSpec
		App string
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.App != "root" || rec.Root != "/opt/stage2/root/rootfs" || rec.Caps != caps.Default&bnd ||
		len(rec.Seccomp) == 0 || rec.Path != "" || len(rec.Args) != 0 || len(rec.Env) == 0 {
		t.Errorf("isolation record: %s", data)
	}
}

func TestIsolationNonRootHasNoCapabilities(t *testing.T) {
	needRoot(t)
	bnd := bounding(t)
	p := &testPod{apps: []testApp{{name: "u", user: "1000", group: "1001", exec: sh(showStatus)}}}
	p.make(t)
	res := p.run(t, nil)
	st := statusFields(t, res.stdout)
	if res.code != 0 || st["CapEff"] != capHex(0) || st["CapPrm"] != capHex(0) ||
		st["CapBnd"] != capHex(caps.Default&bnd) || st["Seccomp"] != "2" {
		t.Errorf("exit %d, status %v", res.code, st)
	}
}

func TestIsolationIsolators(t *testing.T) {
	needRoot(t)
	bnd := bounding(t)
	p := &testPod{apps: []testApp{
		{
			name: "retain", exec: sh(showStatus),
			isolators: types.Isolators{
				isolator(t, "os/linux/capabilities-retain-set", `{"set":["CAP_NET_BIND_SERVICE","CAP_SYS_ADMIN"]}`),
			},
		},
		{
			// The pod's (rkt's flags) win over the image's.
			name: "remove", exec: sh(`busybox chown 1000 /tmp 2>&1; echo chown=$?`),
			isolators: types.Isolators{
				isolator(t, "os/linux/capabilities-retain-set", `{"set":["CAP_CHOWN"]}`),
			},
			podIsolators: types.Isolators{
				isolator(t, "os/linux/capabilities-remove-set", `{"set":["CAP_CHOWN"]}`),
			},
		},
		{
			name: "seccomp", exec: sh(showStatus + `; busybox mkdir /tmp/x 2>&1; echo mkdir=$?`),
			isolators: types.Isolators{
				isolator(t, "os/linux/seccomp-remove-set", `{"set":["mkdir","mkdirat"],"errno":"EROFS"}`),
				isolator(t, "os/linux/no-new-privileges", `true`),
			},
		},
		{
			name: "reported", exec: []string{"/bin/true"},
			isolators: types.Isolators{
				isolator(t, "os/linux/seccomp-retain-set", `{"set":["@rkt/default-whitelist","keyctl"],"errno":"ENOSYS"}`),
				isolator(t, "resource/network-bandwidth", `{"default":true,"limit":"1M"}`),
				isolator(t, "resource/memory", `{"limit":"64M"}`),
			},
		},
	}}
	p.make(t)
	res := p.run(t, nil)
	if res.code != 0 {
		t.Fatalf("exit code %d", res.code)
	}
	lines := map[string][]string{}
	for _, l := range strings.Split(res.stdout, "\n") {
		app, rest, ok := strings.Cut(l, "[")
		if !ok {
			continue
		}
		if _, text, ok := strings.Cut(rest, "]: "); ok {
			lines[app] = append(lines[app], text)
		}
	}
	retain := statusFields(t, strings.Join(lines["retain"], "\n"))
	if want := capHex(caps.Of(caps.NetBindService, caps.SysAdmin) & bnd); retain["CapEff"] != want || retain["CapBnd"] != want {
		t.Errorf("retain set: %v, want CapEff = CapBnd = %s", retain, want)
	}
	if out := strings.Join(lines["remove"], "\n"); !strings.Contains(out, "Operation not permitted") || !strings.Contains(out, "chown=1") {
		t.Errorf("chown without CAP_CHOWN: %q", out)
	}
	sc := strings.Join(lines["seccomp"], "\n")
	if st := statusFields(t, sc); st["NoNewPrivs"] != "1" || st["Seccomp"] != "2" {
		t.Errorf("seccomp app status: %v", st)
	}
	if !strings.Contains(sc, "Read-only file system") || !strings.Contains(sc, "mkdir=1") {
		t.Errorf("mkdir under a remove set with EROFS: %q", sc)
	}
	for _, want := range []string{
		"reported: isolator os/linux/seccomp-retain-set not applied: the baseline filter every app runs under denies keyctl\n",
		"reported: isolator resource/network-bandwidth not applied: ",
		"reported: isolator resource/memory not applied: the app has no cgroup",
	} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	for _, app := range []string{"retain", "remove", "seccomp"} {
		if strings.Contains(res.stderr, app+": isolator") {
			t.Errorf("app %s got a report: %s", app, res.stderr)
		}
	}
}

func TestIsolationInsecureOptions(t *testing.T) {
	needRoot(t)
	bnd := bounding(t)
	p := &testPod{
		rc:   podRC("capabilities", "paths", "seccomp"),
		apps: []testApp{{name: "open", exec: sh(showStatus + `; test -c /proc/keys || echo keys-visible`)}},
	}
	p.make(t)
	res := p.run(t, nil)
	st := statusFields(t, res.stdout)
	if res.code != 0 || st["CapEff"] != capHex(bnd) || st["Seccomp"] != "0" || !strings.Contains(res.stdout, "keys-visible") {
		t.Errorf("exit %d, status %v, stdout %q", res.code, st, res.stdout)
	}
	data, err := os.ReadFile(filepath.Join(p.dir, "rkt/isolation/open.json"))
	if err != nil || strings.Contains(string(data), `"Seccomp"`) {
		t.Errorf("record with seccomp off: %s (%v)", data, err)
	}
}

func TestIsolationHandlersConfined(t *testing.T) {
	needRoot(t)
	p := &testPod{apps: []testApp{{
		name: "h", user: "1000", group: "1001", exec: []string{"/bin/true"},
		handlers: []types.EventHandler{{Name: "pre-start", Exec: sh(showStatus + " > /pre")}},
	}}}
	p.make(t)
	if res := p.run(t, nil); res.code != 0 {
		t.Fatalf("exit code %d", res.code)
	}
	data, err := os.ReadFile(p.rootfsFile("h", "pre"))
	if err != nil {
		t.Fatal(err)
	}
	// The handler runs as root, with the app's capabilities and filter.
	if st := statusFields(t, string(data)); st["CapEff"] != capHex(caps.Default&bounding(t)) || st["Seccomp"] != "2" {
		t.Errorf("pre-start handler: %v", st)
	}
}

// TestIsolationCgroup gives the app a real cgroup, as the nspawn /init
// does (per-app child of the pod cgroup, bound at /rkt/cgroup/<key>), and
// checks that it runs there, with its oom_score_adj, in a cgroup
// namespace rooted at its cgroup.
func TestIsolationCgroup(t *testing.T) {
	needRoot(t)
	h, err := cgroups.Discover()
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	podCg, err := cgroups.CreatePod(h.Self(), uuid.NewString())
	if err != nil {
		t.Skipf("cannot create cgroups here: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := podCg.Destroy(ctx); err != nil {
			t.Error(err)
		}
	})
	appCg, err := podCg.Child("c")
	if err != nil {
		t.Fatal(err)
	}
	const limit = 64 << 20
	if err := appCg.Create(cgroups.Resources{MemoryLimit: limit}); err != nil {
		t.Skipf("cannot limit memory here: %v", err)
	}

	// /done is made by a shell builtin: no child of the shell (touch, on
	// its way out) may still sit in the cgroup when it appears.
	p := &testPod{apps: []testApp{{
		name: "c", exec: sh(`{ cat /proc/self/oom_score_adj; cat /proc/self/cgroup; } > /out; : > /done; exec sleep 100`),
		isolators: types.Isolators{
			isolator(t, "resource/memory", `{"limit":"64M"}`),
			isolator(t, "os/linux/oom-score-adj", `500`),
		},
	}}}
	p.make(t)
	for key, dir := range podCg.Dirs() {
		target := filepath.Join(p.dir, "rkt/cgroup", key)
		if err := os.MkdirAll(target, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount(dir, target, "", unix.MS_BIND, ""); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
	}
	r := p.start(t, nil, nil)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(p.rootfsFile("c", "done")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the app never got going")
		}
	}
	procs, err := appCg.Procs()
	if err != nil || len(procs) != 1 {
		t.Errorf("processes in the app's cgroup: %v, %v; want the app", procs, err)
	}
	r.cmd.Process.Signal(unix.SIGTERM)
	res := r.wait(t)
	if res.code != 0 {
		t.Fatalf("exit code %d", res.code)
	}
	if strings.Contains(res.stderr, "not applied") {
		t.Errorf("memory limit reported as not applied: %s", res.stderr)
	}
	out, err := os.ReadFile(p.rootfsFile("c", "out"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 2 || lines[0] != "500" {
		t.Fatalf("oom_score_adj: %q", out)
	}
	// The app's cgroup namespace is rooted at its cgroup.
	for key := range podCg.Dirs() {
		found := false
		for _, l := range lines[1:] {
			parts := strings.SplitN(l, ":", 3)
			if len(parts) == 3 && (parts[1] == key || (key == cgroups.UnifiedKey && parts[1] == "")) {
				found = parts[2] == "/"
			}
		}
		if !found {
			t.Errorf("hierarchy %s: the app's cgroup is not its namespace's root:\n%s", key, out)
		}
	}
}

func podRC(insecure ...string) podlayout.RuntimeConfig {
	return podlayout.RuntimeConfig{InsecureOptions: insecure}
}
