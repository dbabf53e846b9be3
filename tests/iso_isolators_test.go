package tests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/stage1/isolation/caps"
	"github.com/rkt/rkt/stage1/isolation/cgroups"
)

// Every test here checks an isolator twice: from inside the app (its own
// /proc/self/status, cgroup files and syscalls) and from inside a command
// started with `rkt enter`, which must be confined exactly like the app
// (rkt's enter was not: CVE-2019-10144/10145/10147).

// both runs check on the app's report and on the entered command's.
func both(t *testing.T, inApp, inEnter report, raw string, check func(where string, r report)) {
	t.Helper()
	check("in the app", inApp)
	check("in rkt enter", inEnter)
	if t.Failed() {
		t.Logf("reports:\n%s", raw)
	}
}

// deviceCheck makes a /dev/mem node (not a default device) and reads it:
// the devices cgroup must refuse the open.
const deviceCheck = `rm -f /tmp/mem-$$; mknod /tmp/mem-$$ c 1 1 && { head -c 1 /tmp/mem-$$ >/dev/null 2>&1; echo "devmem: $?"; }; rm -f /tmp/mem-$$
head -c 1 /dev/urandom >/dev/null 2>&1; echo "urandom: $?"`

// TestIsoDefaults: a root app without isolators gets rkt's default
// capabilities (nothing inheritable or ambient), the default seccomp
// filter, no no_new_privs, masked and read-only /proc paths and only the
// default devices.
func TestIsoDefaults(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.isoImage("defaults", reportScript(deviceCheck))
	_, inApp, inEnter, raw := pe.checkedPod("defaults", deviceCheck, img)
	both(t, inApp, inEnter, raw, func(where string, r report) {
		for _, k := range []string{"CapEff", "CapPrm", "CapBnd"} {
			if got := r.caps(t, k); got != caps.Default {
				t.Errorf("%s: %s = %v, want rkt's default set %v", where, k, got, caps.Default)
			}
		}
		for _, k := range []string{"CapInh", "CapAmb"} {
			if got := r.caps(t, k); got != 0 {
				t.Errorf("%s: %s = %v, want none", where, k, got)
			}
		}
		if r["Seccomp"] != "2" {
			t.Errorf("%s: Seccomp = %q, want 2 (a filter)", where, r["Seccomp"])
		}
		if r["NoNewPrivs"] != "0" {
			t.Errorf("%s: NoNewPrivs = %q, want 0 without the isolator", where, r["NoNewPrivs"])
		}
		if r["keys"] != "character special file 1:3" {
			t.Errorf("%s: /proc/keys is %q, want it masked by /dev/null", where, r["keys"])
		}
		if !strings.HasPrefix(r["procsys"], "ro") {
			t.Errorf("%s: /proc/sys mounted %q, want read-only", where, r["procsys"])
		}
		if r["devmem"] == "0" || r["devmem"] == "" {
			t.Errorf("%s: reading a /dev/mem node made with mknod: %q, want refused by the devices cgroup", where, r["devmem"])
		}
		if r["urandom"] != "0" {
			t.Errorf("%s: reading /dev/urandom: exit %q, want 0", where, r["urandom"])
		}
	})
}

// TestIsoInsecureOptions: --insecure-options=capabilities,paths,seccomp
// turn the defaults off: every capability the runtime has, the paths
// unmasked and writable, no filter refusing a removed syscall.
func TestIsoInsecureOptions(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	const mk = `mkdir /tmp/d-$$ 2>&1 && echo "mkdir: ok"; rmdir /tmp/d-$$ 2>/dev/null`
	img := pe.isoImage("insecure", reportScript(mk))
	_, inApp, inEnter, raw := pe.checkedPod("insecure", mk,
		"--insecure-options=capabilities,paths,seccomp", img, "--seccomp=mode=remove,errno=ENOTSUP,mkdir,mkdirat")
	all := selfCaps(t)
	both(t, inApp, inEnter, raw, func(where string, r report) {
		if got := r.caps(t, "CapEff"); got != all {
			t.Errorf("%s: CapEff = %v, want every capability of the runtime %v", where, got, all)
		}
		if r["keys"] == "character special file 1:3" {
			t.Errorf("%s: /proc/keys masked despite --insecure-options=paths", where)
		}
		if strings.HasPrefix(r["procsys"], "ro") {
			t.Errorf("%s: /proc/sys read-only (%q) despite --insecure-options=paths", where, r["procsys"])
		}
		if r["mkdir"] != "ok" {
			t.Errorf("%s: mkdir with seccomp disabled: %q, want ok", where, r["mkdir"])
		}
	})
}

// TestIsoCapabilities: the retain and remove sets, from the image and from
// the flags (which win), for root apps.
func TestIsoCapabilities(t *testing.T) {
	t.Parallel()
	const chownCheck = `touch /tmp/f-$$; chown 1000 /tmp/f-$$ >/dev/null 2>&1; echo "chown: $?"; rm -f /tmp/f-$$`
	retainImage := withIsolators(t, "os/linux/capabilities-retain-set", `{"set":["CAP_KILL","CAP_NET_BIND_SERVICE","CAP_SETUID","CAP_SETGID"]}`)
	cases := []struct {
		name      string
		imageMod  bool
		flags     []string
		want      caps.Set
		chownWant string
	}{
		{"image-retain", true, nil, caps.Of(caps.Kill, caps.NetBindService, caps.Setuid, caps.Setgid), "1"},
		{"flag-retain-wins", true, []string{"--caps-retain=CAP_NET_ADMIN,CAP_CHOWN"}, caps.Of(caps.NetAdmin, caps.Chown), "0"},
		{"flag-remove", false, []string{"--caps-remove=CAP_CHOWN,CAP_MKNOD"}, caps.Default &^ caps.Of(caps.Chown, caps.Mknod), "1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			pe := newPodEnv(t)
			var mod = withUser("0", "0")
			if c.imageMod {
				mod = retainImage
			}
			img := pe.isoImage("caps", reportScript(chownCheck), mod)
			_, inApp, inEnter, raw := pe.checkedPod("caps", chownCheck, append([]string{img}, c.flags...)...)
			both(t, inApp, inEnter, raw, func(where string, r report) {
				for _, k := range []string{"CapEff", "CapPrm", "CapBnd"} {
					if got := r.caps(t, k); got != c.want {
						t.Errorf("%s: %s = %v, want %v", where, k, got, c.want)
					}
				}
				if r["chown"] != c.chownWant {
					t.Errorf("%s: chown exit %q, want %s", where, r["chown"], c.chownWant)
				}
			})
		})
	}
}

// TestIsoNonRootNoCapabilities: an app running as a user other than root
// has no capability, even one it asks to retain; its bounding set is
// still limited.
func TestIsoNonRootNoCapabilities(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.isoImage("user", reportScript(""), withUser("1000", "1100"))
	_, inApp, inEnter, raw := pe.checkedPod("user", "", img, "--caps-retain=CAP_NET_ADMIN,CAP_KILL")
	both(t, inApp, inEnter, raw, func(where string, r report) {
		for _, k := range []string{"CapEff", "CapPrm", "CapInh", "CapAmb"} {
			if got := r.caps(t, k); got != 0 {
				t.Errorf("%s: %s = %v, want none for uid 1000", where, k, got)
			}
		}
		if got, want := r.caps(t, "CapBnd"), caps.Of(caps.NetAdmin, caps.Kill); got != want {
			t.Errorf("%s: CapBnd = %v, want %v", where, got, want)
		}
	})
	if !strings.HasPrefix(inApp["Uid"], "1000 ") {
		t.Errorf("in the app: Uid %q, want 1000", inApp["Uid"])
	}
}

// TestIsoSeccomp: a remove set with an errno from the flag and one from
// the image, and no_new_privs from the image.
func TestIsoSeccomp(t *testing.T) {
	t.Parallel()
	t.Run("flag-remove-errno", func(t *testing.T) {
		t.Parallel()
		pe := newPodEnv(t)
		const mk = `mkdir /tmp/d-$$ 2>&1 || echo "mkdir: failed"; rmdir /tmp/d-$$ 2>/dev/null`
		img := pe.isoImage("sc", reportScript(mk))
		_, inApp, inEnter, raw := pe.checkedPod("sc", mk, img, "--seccomp=mode=remove,errno=ENOTSUP,mkdir,mkdirat")
		both(t, inApp, inEnter, raw, func(where string, r report) {
			if r["Seccomp"] != "2" {
				t.Errorf("%s: Seccomp = %q, want 2", where, r["Seccomp"])
			}
			if !strings.Contains(r["mkdir"], "Operation not supported") {
				t.Errorf("%s: mkdir under a filter removing it with ENOTSUP: %q, want \"Operation not supported\"", where, r["mkdir"])
			}
		})
	})
	t.Run("image-remove-nnp", func(t *testing.T) {
		t.Parallel()
		pe := newPodEnv(t)
		const ch = `touch /tmp/f-$$; chmod 600 /tmp/f-$$ 2>&1; echo "chmod: $?"; rm -f /tmp/f-$$`
		img := pe.isoImage("sc", reportScript(ch), withIsolators(t,
			"os/linux/seccomp-remove-set", `{"set":["chmod","fchmodat"],"errno":"EACCES"}`,
			"os/linux/no-new-privileges", `true`))
		_, inApp, inEnter, raw := pe.checkedPod("sc", ch, img)
		both(t, inApp, inEnter, raw, func(where string, r report) {
			if r["NoNewPrivs"] != "1" {
				t.Errorf("%s: NoNewPrivs = %q, want 1", where, r["NoNewPrivs"])
			}
			if !strings.Contains(r["chmod"], "Permission denied") {
				t.Errorf("%s: chmod under a filter removing it with EACCES: %q, want \"Permission denied\"", where, r["chmod"])
			}
		})
	})
}

// TestIsoResources: memory, cpu, cpu-shares and oom-score-adj from the
// image, with the flags overriding memory and oom-score-adj; the limits as
// the app reads them from its cgroup, and a process over the memory limit
// killed, both in the app and in rkt enter (which joins the app's cgroup).
func TestIsoResources(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	oom := ""
	if !swapOn() {
		oom = `dd if=/dev/zero of=/dev/null bs=96M count=1 >/dev/null 2>&1; echo "dd: $?"`
	}
	img := pe.isoImage("res", reportScript(oom), withIsolators(t,
		"resource/memory", `{"limit":"1G"}`,
		"resource/cpu", `{"limit":"250m"}`,
		"os/linux/cpu-shares", `512`,
		"os/linux/oom-score-adj", `100`))
	_, inApp, inEnter, raw := pe.checkedPod("res", oom, img, "--memory=48Mi", "--oom-score-adj=300")
	both(t, inApp, inEnter, raw, func(where string, r report) {
		if r["oom_score_adj"] != "300" {
			t.Errorf("%s: oom_score_adj = %q, want 300 (--oom-score-adj over the image's 100)", where, r["oom_score_adj"])
		}
		if got := r.value("memory.limit"); got != "50331648" {
			t.Errorf("%s: memory limit %q, want 50331648 (--memory=48Mi over the image's 1G)", where, r["memory.limit"])
		}
		if got := strings.Fields(r.value("cpu.quota")); len(got) == 0 || got[0] != "25000" {
			t.Errorf("%s: cpu quota %q, want 25000 per 100000 (250m)", where, r["cpu.quota"])
		}
		wantShares := "512"
		if strings.Contains(r["cpu.shares"], "cpu.weight") {
			wantShares = strconv.FormatUint(cgroups.SharesToWeight(512), 10)
		}
		if got := r.value("cpu.shares"); got != wantShares {
			t.Errorf("%s: cpu shares %q, want %s", where, r["cpu.shares"], wantShares)
		}
		if oom != "" && r["dd"] != "137" {
			t.Errorf("%s: a 96M allocation under a 48M limit: exit %q, want 137 (killed)", where, r["dd"])
		}
	})
	// The app may see its cgroup as the root of a cgroup namespace; an
	// entered command must be in the same cgroup, seen the same way or by
	// its full path.
	for _, k := range []string{"cgroup.memory", "cgroup.cpu"} {
		if got := inEnter[k]; got != inApp[k] && !strings.HasSuffix(got, "/res") {
			t.Errorf("rkt enter runs in cgroup %s %q, the app in %q: want the app's", k, got, inApp[k])
		}
	}
}

// podCgroup returns the directory of pod uuid's cgroup (or of one of its
// children) in the v1 hierarchy of controller (see podCgroupDirs).
func podCgroup(t *testing.T, controller, uuid string, child ...string) string {
	t.Helper()
	prefix := filepath.Join("/sys/fs/cgroup", controller) + "/"
	for _, d := range podCgroupDirs(uuid) {
		if strings.HasPrefix(d, prefix) {
			return filepath.Join(append([]string{d}, child...)...)
		}
	}
	t.Skipf("skipping: no cgroup v1 %s hierarchy on this host", controller)
	return ""
}

// TestIsoPerAppCgroups: two apps of one pod, each with its own limit, in
// cgroups of their own under the pod's.
func TestIsoPerAppCgroups(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	dirA, volA := pe.outVolume()
	a := pe.isoImage("a", reportScript(""))
	// b writes its report to a mount point of its own, "res".
	limit64 := withIsolators(t, "resource/memory", `{"limit":"64Mi"}`)
	b := pe.busyboxImage("b", []string{"/bin/sh", "-c", isoReport + "{ report; } > /res/app.tmp; mv /res/app.tmp /res/app\n" + isoSleep},
		func(im *schema.ImageManifest) {
			limit64(im)
			im.App.MountPoints = append(im.App.MountPoints, types.MountPoint{Name: "res", Path: "/res"})
		}, appletLinks(isoApplets...)...)
	dirB, err := os.MkdirTemp(pe.base, "res-")
	if err != nil {
		t.Fatal(err)
	}
	uuid, _ := pe.startPod(volA, "--volume=res,kind=host,source="+dirB, a, "--memory=48Mi", b)
	ra := parseReport(waitOutFile(t, filepath.Join(dirA, "app"), time.Minute, nil))
	rb := parseReport(waitOutFile(t, filepath.Join(dirB, "app"), time.Minute, nil))
	if ra.value("memory.limit") != "50331648" || rb.value("memory.limit") != "67108864" {
		t.Errorf("memory limits: a %q (want 48Mi), b %q (want 64Mi)", ra["memory.limit"], rb["memory.limit"])
	}
	// Seen from the host: <pod>/a and <pod>/b with those limits.
	for app, want := range map[string]string{"a": "50331648", "b": "67108864"} {
		b, err := os.ReadFile(filepath.Join(podCgroup(t, "memory", uuid, app), "memory.limit_in_bytes"))
		if got := strings.TrimSpace(string(b)); err != nil || got != want {
			t.Errorf("the host's view of app %s's memory cgroup: %q, %v; want a limit of %s", app, got, err, want)
		}
	}
}
