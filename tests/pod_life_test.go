package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage1/isolation/cgroups"
	"github.com/rkt/rkt/stage1/network"
)

// settleTime bounds how long a pod may outlive a SIGKILL of its rkt
// process before rkt knows: by then either none of its processes is left
// and it is not running, or it is running (its lock held) and rkt stop
// ends it.
const settleTime = 10 * time.Second

// TestPodKillRktAtRandomInstants SIGKILLs `rkt run` at random instants
// of the pod's start-up (stage0 preparing it, the stage1 /init, nspawn
// starting, the supervisor starting the app) and of its run. The process
// the user or a service manager started is the only handle on the pod
// they have: after it died, rkt must not say "exited" of a pod that still
// runs. Within settleTime each pod is either gone (no process left,
// status not running) or running with rkt stop working; gc then leaves no
// pod directory, mount, process, network namespace or cgroup. The last
// third of the rounds run with --private-users.
func TestPodKillRktAtRandomInstants(t *testing.T) {
	var seen []string
	// Registered before the env: runs after its gc, removing by force
	// whatever the pods left (processes, cgroups, network namespaces).
	t.Cleanup(func() { forceRemovePods(t, seen) })
	pe := newPodEnv(t)
	img := pe.shImage("sleeper", "sleep 100000")
	pe.ok("fetch", img)
	name := pe.name("sleeper")

	// Each round waits for one step of the start (or none), then a random
	// 0-5 ms more, and kills rkt run: the steps are the files each stage
	// writes (startPhase), polled every millisecond, so every stage is hit
	// whatever this machine's speed.
	type step struct {
		name string
		// reached reports whether the pod in dir ("" before stage0 made
		// it) got this far.
		reached func(dir string) bool
		// extra is the largest random delay after the step.
		extra time.Duration
	}
	hasFile := func(rel func(string) string) func(string) bool {
		return func(dir string) bool { return dir != "" && lexists(rel(dir)) }
	}
	steps := []step{
		{"rkt run started (stage0)", func(string) bool { return true }, 80 * time.Millisecond},
		{"pod directory made (stage0)", func(dir string) bool { return dir != "" }, 5 * time.Millisecond},
		{"cgroup recorded (/init)", hasFile(func(d string) string { return filepath.Join(d, podlayout.CgroupFile) }), 5 * time.Millisecond},
		{"ppid written (/init about to exec nspawn)", hasFile(func(d string) string { return filepath.Join(d, "ppid") }), 5 * time.Millisecond},
		{"app created (supervisor)", func(dir string) bool {
			es, _ := os.ReadDir(podlayout.StatusDir(dir))
			return dir != "" && len(es) > 0
		}, 5 * time.Millisecond},
		{"pod up", hasFile(podlayout.SupervisorStatusPath), time.Second},
	}
	const rounds = 18
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	var stopped int
	phases := map[string]int{}
	for i := range rounds {
		st := steps[i%len(steps)]
		args := []string{"--net=none"}
		if i >= 2*len(steps) {
			// The last pass in a user namespace of the pod's own, where
			// the supervisor is not the host's root.
			args = append(args, "--private-users")
		}
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		cmd := pe.command(ctx, pe.withStage1("run", append(args, name))...)
		var out lockedBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.WaitDelay = time.Second // the pod's processes may hold the pipes
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatalf("round %d: starting rkt run: %v", i, err)
		}
		newPod := func() string {
			for _, d := range pe.podDirs() {
				if !slices.Contains(seen, filepath.Base(d)) {
					return d
				}
			}
			return ""
		}
		t0 := time.Now()
		for !st.reached(newPod()) {
			if time.Since(t0) > time.Minute {
				t.Fatalf("round %d: the pod did not reach %q within a minute; output:\n%s", i, st.name, out.String())
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(st.extra))))
		cmd.Process.Signal(syscall.SIGKILL)
		delay := time.Since(t0)
		phase := "stage0, no pod yet"
		if d := newPod(); d != "" {
			phase = startPhase(d)
		}
		cmd.Wait()
		cancel()
		t.Logf("round %d (%s): killed rkt run %v after it started, after %q (found: %s)", i, strings.Join(args, " "), delay, st.name, phase)
		phases[phase]++
		for _, d := range pe.podDirs() {
			uuid := filepath.Base(d)
			if slices.Contains(seen, uuid) {
				continue // an earlier round's, settled then
			}
			seen = append(seen, uuid)
			if pe.settle(fmt.Sprintf("round %d (kill after %q)", i, st.name), uuid) {
				stopped++
			}
		}
		if t.Failed() {
			t.Logf("round %d: rkt run's output:\n%s", i, out.String())
			break
		}
	}
	t.Logf("%d rounds, %d pods, %d of them still running (and stopped) after the kill; killed in: %v", rounds, len(seen), stopped, phases)

	pe.ok("gc", "--grace-period=0s")
	// A pod killed before stage0 locked it stays in embryo/ until gc finds
	// it a minute old (pod.EmbryoTimeout: younger, it may still be being
	// made); nothing else may be left.
	for _, d := range pe.podDirs() {
		if filepath.Base(filepath.Dir(d)) != "embryo" {
			t.Errorf("after the kills and gc: pod directory left: %s", d)
		}
	}
	if ms := mountsUnder(pe.base); len(ms) != 0 {
		t.Errorf("after the kills and gc: mounts left under the test dir:\n%s", strings.Join(ms, "\n"))
	}
	if pids := processesUnder(pe.base); len(pids) != 0 {
		t.Errorf("after the kills and gc: processes left under the test dir: %v", describePids(pids))
	}
	assertPodsLeftNothing(t, seen)
}

// TestPodKillRktDefaultNet kills `rkt run` of a running pod on the default
// network (in a host namespace of the test's own): the pod must go, and gc
// must then release its address, its namespace and its cgroups.
func TestPodKillRktDefaultNet(t *testing.T) {
	var seen []string
	t.Cleanup(func() { forceRemovePods(t, seen) })
	h := newNetHost(t)
	pe := newPodEnv(t)
	img := pe.shImage("sleeper", "sleep 100000")
	pe.ok("fetch", img)
	uuid, wait := h.startPod(pe, "--net=default", pe.name("sleeper"))
	seen = append(seen, uuid)
	// Running from the moment stage0 locks it; up once the supervisor
	// started the app.
	ready := podlayout.SupervisorStatusPath(pe.podDir(uuid))
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Lstat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s: %s missing a minute after it began running", uuid, ready)
		}
	}
	nets := pe.podNets(uuid)
	if len(nets) == 0 || nets[0].IP == "" {
		t.Fatalf("pod %s has no address on the default network: %+v", uuid, nets)
	}
	b, err := os.ReadFile(filepath.Join(pe.podDir(uuid), "ppid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("ppid %q: %v", b, err)
	}
	// The pid of `rkt run` is the one in ppid: stage0 and /init exec.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing rkt run (%d): %v", pid, err)
	}
	wait()
	if pe.settle("kill of a pod on the default network", uuid) {
		t.Logf("pod %s was still running after the kill; rkt stop ended it", uuid)
	}
	h.gc(pe)
	if ds := pe.podDirs(); len(ds) != 0 {
		t.Errorf("after gc, pod directories remain: %v", ds)
	}
	assertPodsLeftNothing(t, seen)
	if ms, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(ms), nets[0].IP) {
		t.Errorf("the pod's address %s still appears in the mount table", nets[0].IP)
	}
	var leases []string
	filepath.WalkDir("/var/lib/cni/networks", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), uuid) {
				leases = append(leases, p)
			}
		}
		return nil
	})
	if len(leases) != 0 {
		t.Errorf("IPAM leases of the killed pod left after gc: %v", leases)
	}
}

// startPhase tells how far the start of the pod in dir had gone, from the
// files each stage writes: stage0 (the pod directory), /init (the cgroup
// record and ppid, written just before it execs nspawn), the supervisor
// (an app's status files) and the pod up (supervisor-status).
func startPhase(dir string) string {
	switch {
	case lexists(podlayout.SupervisorStatusPath(dir)):
		return "pod up"
	case lexists(podlayout.StatusDir(dir)) && func() bool { es, _ := os.ReadDir(podlayout.StatusDir(dir)); return len(es) > 0 }():
		return "supervisor starting the app"
	case lexists(filepath.Join(dir, "ppid")):
		return "nspawn starting"
	case lexists(filepath.Join(dir, podlayout.CgroupFile)):
		return "stage1 /init"
	default:
		return "stage0, pod directory made"
	}
}

func lexists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// settle waits, after the rkt process of pod uuid was killed, for the
// pod to be either gone (not running, none of its processes left) or
// running; a running pod is stopped with rkt stop, which must end it.
// It reports whether the pod was running.
func (pe *podEnv) settle(what, uuid string) (wasRunning bool) {
	pe.t.Helper()
	deadline := time.Now().Add(settleTime)
	for {
		state := pe.status(uuid)["state"]
		procs := podProcesses(pe, uuid)
		if state == "running" {
			break
		}
		if len(procs) == 0 {
			if took := time.Since(deadline.Add(-settleTime)); took > time.Second {
				pe.t.Logf("%s: pod %s: its last process went %v after the kill", what, uuid, took)
			}
			return false
		}
		if time.Now().After(deadline) {
			pe.t.Errorf("%s: pod %s: rkt status says %q, yet %d of its processes still run %v after the kill: %v",
				what, uuid, state, len(procs), settleTime, describePids(procs))
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, stderr, code := rkt(pe.t, pe.env, "stop", uuid); code != 0 {
		pe.t.Errorf("%s: pod %s is running after the kill, and rkt stop exited %d: %s", what, uuid, code, stderr)
		return true
	}
	for {
		state := pe.status(uuid)["state"]
		procs := podProcesses(pe, uuid)
		if state != "running" && len(procs) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			pe.t.Errorf("%s: pod %s: after rkt stop, state %q and processes %v", what, uuid, state, describePids(procs))
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// podProcesses lists the processes of pod uuid: those whose root, working
// directory or executable lies in its directory, and those in its cgroups.
func podProcesses(pe *podEnv, uuid string) []int {
	var pids []int
	if d := pe.podDir(uuid); d != "" {
		pids = processesUnder(d)
	}
	for _, d := range podCgroupDirs(uuid) {
		filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil || !e.IsDir() {
				return nil
			}
			b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && !slices.Contains(pids, pid) {
					pids = append(pids, pid)
				}
			}
			return nil
		})
	}
	return pids
}

// assertPodsLeftNothing fails for every network namespace and cgroup of
// the pods left on the host.
func assertPodsLeftNothing(t *testing.T, uuids []string) {
	t.Helper()
	mountinfo, _ := os.ReadFile("/proc/self/mountinfo")
	for _, u := range uuids {
		ns := network.NetNSPath(u)
		if exists(ns) {
			t.Errorf("network namespace file %s left", ns)
		}
		if strings.Contains(string(mountinfo), " "+ns+" ") {
			t.Errorf("network namespace %s still mounted", ns)
		}
		for _, d := range podCgroupDirs(u) {
			if exists(d) {
				t.Errorf("pod cgroup %s left", d)
			}
		}
	}
}

// forceRemovePods kills what is left of the pods and removes their cgroups
// and network namespaces, so that a failed test does not leak into the
// host or the next test.
func forceRemovePods(t *testing.T, uuids []string) {
	for _, u := range uuids {
		for _, d := range podCgroupDirs(u) {
			var dirs []string
			filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
				if err == nil && e.IsDir() {
					dirs = append(dirs, p)
				}
				return nil
			})
			for range 20 {
				n := 0
				for _, dir := range dirs {
					b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
					for _, f := range strings.Fields(string(b)) {
						if pid, err := strconv.Atoi(f); err == nil {
							syscall.Kill(pid, syscall.SIGKILL)
							n++
						}
					}
				}
				if n == 0 {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			for i := len(dirs) - 1; i >= 0; i-- {
				if err := syscall.Rmdir(dirs[i]); err == nil {
					t.Logf("cleanup: removed cgroup %s", dirs[i])
				}
			}
		}
		ns := network.NetNSPath(u)
		if exists(ns) {
			syscall.Unmount(ns, syscall.MNT_DETACH)
			os.Remove(ns)
			t.Logf("cleanup: removed network namespace %s", ns)
		}
	}
}

// TestPodFromRootCgroupLeavesNoCgroups runs pods from a process in the
// root cgroup of every hierarchy, as `rkt run` from a shell on a fresh
// machine is: one that exits, one stopped, one whose rkt run is killed.
// systemd-nspawn splits the cgroup it starts in into payload/ and
// supervisor/ and leaves them; started from the root it would leave them
// at the root of the unified hierarchy. After gc neither they nor any
// cgroup of the pods may be left, in any hierarchy.
func TestPodFromRootCgroupLeavesNoCgroups(t *testing.T) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/cgroup.procs")
	if len(roots) == 0 {
		roots, _ = filepath.Glob("/sys/fs/cgroup/cgroup.procs")
	}
	if len(roots) == 0 {
		t.Skip("skipping: no cgroup hierarchy mounted under /sys/fs/cgroup")
	}
	var hierarchies []string
	for _, r := range roots {
		hierarchies = append(hierarchies, filepath.Dir(r))
	}
	// nspawn's names; another test's bare nspawn may have left them
	// already, and then nothing can be told about this one's.
	var splits []string
	for _, h := range hierarchies {
		for _, n := range []string{"payload", "supervisor"} {
			p := filepath.Join(h, n)
			if exists(p) {
				t.Logf("%s exists before the test: not checked", p)
				continue
			}
			splits = append(splits, p)
		}
	}
	var seen []string
	t.Cleanup(func() {
		for _, p := range splits {
			os.Remove(p) // empty when left by a pod of this test
		}
	})
	pe := newPodEnv(t)
	pe.ok("fetch", pe.shImage("hello", "echo hello"))
	pe.ok("fetch", pe.shImage("sleeper", "sleep 100000"))
	// The shell moves itself into the root cgroup of every hierarchy,
	// then execs rkt: rkt run starts there.
	inRoot := func(c *exec.Cmd) {
		script := `for f in "$@"; do case $f in --) break;; esac; echo $$ > "$f"; shift; done; shift; exec "$@"`
		c.Args = append(append(append([]string{"sh", "-c", script, "sh"}, roots...), "--"), c.Args...)
		c.Path = "/bin/sh"
	}
	var records []string
	record := func(uuid string) {
		seen = append(seen, uuid)
		b, err := os.ReadFile(filepath.Join(pe.podDir(uuid), "cgroup"))
		if err != nil {
			t.Fatalf("pod %s: reading its cgroup record: %v", uuid, err)
		}
		var rec struct {
			Dirs map[string]string `json:"dirs"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatalf("pod %s: cgroup record %q: %v", uuid, b, err)
		}
		for _, d := range rec.Dirs {
			records = append(records, d)
		}
		t.Logf("pod %s: cgroups %v", uuid, rec.Dirs)
	}

	// An app that exits.
	f := filepath.Join(pe.base, "uuid-hello")
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	cmd := pe.command(ctx, pe.withStage1("run", []string{"--uuid-file-save=" + f, "--net=none", pe.name("hello")})...)
	inRoot(cmd)
	out, err := cmd.CombinedOutput()
	cancel()
	if err != nil {
		t.Fatalf("rkt run from the root cgroup: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(f)
	record(strings.TrimSpace(string(b)))

	// A pod stopped, and one whose rkt run is killed once it is up.
	for _, kill := range []bool{false, true} {
		uuid, wait := pe.startPodIn(inRoot, "(from the root cgroup) ", "--net=none", pe.name("sleeper"))
		ready := podlayout.SupervisorStatusPath(pe.podDir(uuid))
		for deadline := time.Now().Add(time.Minute); !lexists(ready); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("pod %s not up a minute after it began running", uuid)
			}
		}
		record(uuid)
		if kill {
			b, _ := os.ReadFile(filepath.Join(pe.podDir(uuid), "ppid"))
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			if pid <= 1 {
				t.Fatalf("pod %s: ppid %q", uuid, b)
			}
			syscall.Kill(pid, syscall.SIGKILL)
		} else {
			pe.ok("stop", uuid)
		}
		wait()
		pe.settle("pod from the root cgroup", uuid)
	}

	pe.ok("gc", "--grace-period=0s")
	for _, p := range splits {
		if exists(p) {
			t.Errorf("%s left at the root of its hierarchy (systemd-nspawn's split of the cgroup it started in)", p)
		}
	}
	for _, d := range records {
		if exists(d) {
			t.Errorf("pod cgroup %s left after gc", d)
		}
	}
	for _, h := range hierarchies {
		for _, u := range seen {
			if p := filepath.Join(h, cgroups.PodName(u)); exists(p) {
				t.Errorf("pod cgroup %s left after gc", p)
			}
		}
	}
}
