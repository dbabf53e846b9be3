package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage1/isolation/caps"
	"github.com/rkt/rkt/stage1/isolation/cgroups"
	"github.com/rkt/rkt/stage1/stage1cmd"
)

// inPodSelf is this binary's path inside the pod.
const inPodSelf = "/nspawn-stage1"

// runEnter joins the namespaces of the pod's PID 1 and runs CMD in the
// app's rootfs. Go cannot join a mount namespace from a multi-threaded
// process, so the host's nsenter does the joining and then runs this
// binary inside the pod in its enter-app mode, which chroots into the app
// and execs CMD with the app's environment.
func runEnter(args []string) error {
	ea, nsenter, err := stage1cmd.ParseEnter(args)
	if err != nil {
		return err
	}
	if err := podlayout.ValidAppName(ea.AppName); err != nil {
		return fmt.Errorf("entering the pod: %w", err)
	}
	if err := waitConfined(ea.AppName); err != nil {
		return fmt.Errorf("entering app %q: %w", ea.AppName, err)
	}
	if err := joinAppCgroups(ea.AppName); err != nil {
		return fmt.Errorf("entering app %q: %w", ea.AppName, err)
	}
	argv := []string{nsenter, "--target", strconv.Itoa(ea.Pid),
		"--mount", "--uts", "--ipc", "--net", "--pid", "--root", "--wd"}
	if otherUserNS(ea.Pid) {
		// --private-users: the command runs as the pod's root, inside
		// the pod's user namespace, like the app.
		argv = append(argv, "--user")
	}
	argv = append(argv, "--", inPodSelf, "enter-app", ea.AppName, "--")
	argv = append(argv, ea.Cmd...)
	if err := unix.Exec(nsenter, argv, os.Environ()); err != nil {
		return fmt.Errorf("entering app %q: executing %s: %w", ea.AppName, nsenter, err)
	}
	return nil
}

// waitConfined waits, for a bounded time, until the supervisor has written
// the record of how it confined the app: an enter that comes right after
// the pod starts would otherwise find none and refuse.
func waitConfined(app string) error {
	record := filepath.Join(podlayout.Stage1Rootfs("."), podlayout.InPodIsolationDir, app+".json")
	deadline := time.Now().Add(confinedWait)
	for {
		_, err := os.Stat(record)
		if err == nil || !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			// A missing record past the deadline is refused by enter-app.
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// confinedWait bounds waitConfined.
const confinedWait = 10 * time.Second

// joinAppCgroups moves the calling process, on the host, into the app's
// cgroups (<pod cgroup>/<app> in every hierarchy of the pod's record;
// the working directory is the pod's), before it joins the pod's
// namespaces. enter-app joins them again from inside the pod, which is
// then a move within the app's own cgroup: the pod's root of a
// --private-users pod may do that, but not move a process in from the
// host's cgroups.
func joinAppCgroups(app string) error {
	cg, err := cgroups.Load(podlayout.CgroupFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("joining the app's cgroup: %w", err)
	}
	for _, dir := range cg.Dirs() {
		procs := filepath.Join(dir, app, "cgroup.procs")
		if err := os.WriteFile(procs, []byte("0"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("joining the app's cgroup: %w", err)
		}
	}
	return nil
}

// otherUserNS reports whether process pid is in a user namespace other
// than the caller's.
func otherUserNS(pid int) bool {
	var self, pod unix.Stat_t
	if unix.Stat("/proc/self/ns/user", &self) != nil || unix.Stat("/proc/"+strconv.Itoa(pid)+"/ns/user", &pod) != nil {
		return false
	}
	return self.Ino != pod.Ino || self.Dev != pod.Dev
}

// runEnterApp runs inside the pod (root = the stage1 rootfs, namespaces
// joined by nsenter) and execs CMD confined exactly as the supervisor
// confined the app, from the record it wrote, /rkt/isolation/<app>.json:
// it joins the app's cgroups (/rkt/cgroup/<key>/<app>) and makes a cgroup
// namespace rooted there, takes its oom_score_adj, then caps.PrepareAndExec chroots into the app's rootfs,
// takes the app's user and groups, limits the bounding set and the
// capabilities to the app's, sets no_new_privs when the app has it and
// installs the app's seccomp filter before execve. rkt ran the entered
// command as an unconfined root (CVE-2019-10144, -10145, -10147).
//
// Without a record (the app has not been started yet) nothing is run: an
// unconfined fallback is what this replaces.
func runEnterApp(args []string) error {
	if len(args) < 3 || args[1] != "--" {
		return errors.New("usage: enter-app NAME -- CMD [ARGS...]")
	}
	app, cmd := args[0], args[2:]
	if err := podlayout.ValidAppName(app); err != nil {
		return fmt.Errorf("entering the app: %w", err)
	}
	// The cgroup namespace made below, and the ids, capabilities and
	// filter PrepareAndExec sets, belong to this thread, which execs.
	runtime.LockOSThread()
	spec, err := enterSpec("/", app, cmd)
	if err != nil {
		return fmt.Errorf("entering app %q: %w", app, err)
	}
	spec.Env = withTerm(spec.Env, os.Getenv("TERM"))
	if spec.cgroupNS {
		// Like the app: a cgroup namespace rooted at its cgroup.
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("entering app %q: making its cgroup namespace: %w", app, err)
		}
	}
	if err := caps.PrepareAndExec(spec.ExecSpec); err != nil {
		return fmt.Errorf("entering app %q: %w", app, err)
	}
	return nil
}

// confinement is the supervisor's record of how an app is confined:
// caps.ExecSpec's fields (Path and Args empty) plus App, CgroupKeys and
// OOMScoreAdj (Documentation/devel/architecture.md, stage1/supervisor).
type confinement struct {
	caps.ExecSpec
	App         string
	CgroupKeys  []string
	OOMScoreAdj *int
}

// entered is how an entered command is started.
type entered struct {
	caps.ExecSpec
	// cgroupNS: the command joined the app's cgroups and gets a cgroup
	// namespace rooted there, as the app did.
	cgroupNS bool
}

// enterSpec reads the app's confinement record, joins its cgroups and
// sets its oom_score_adj on the calling process, and returns the exec
// spec for cmd. root is the stage1 rootfs as the caller sees it ("/"
// inside the pod).
func enterSpec(root, app string, cmd []string) (*entered, error) {
	path := filepath.Join(root, podlayout.InPodIsolationDir, app+".json")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (no %s)", ErrNotConfined, path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the app's confinement: %w", err)
	}
	var c confinement
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("reading the app's confinement %s: %w", path, err)
	}
	if c.App != app {
		return nil, fmt.Errorf("reading the app's confinement %s: it is app %q's", path, c.App)
	}
	if len(c.Seccomp) == 0 {
		// Only --insecure-options=seccomp leaves an app without a filter;
		// a record without one otherwise is not to be trusted.
		rc, err := podlayout.ReadRuntimeConfig(filepath.Join(root, podlayout.InPodRuntimeConfig))
		if err != nil {
			return nil, fmt.Errorf("checking the app's confinement: %w", err)
		}
		if !slices.Contains(rc.InsecureOptions, "seccomp") {
			return nil, fmt.Errorf("%w: %s has no seccomp filter", ErrNotConfined, path)
		}
	}
	for _, key := range c.CgroupKeys {
		if strings.Contains(key, "/") || key == "." || key == ".." || key == "" {
			return nil, fmt.Errorf("reading the app's confinement %s: invalid cgroup key %q", path, key)
		}
		procs := filepath.Join(root, podlayout.InPodCgroupDir, key, app, "cgroup.procs")
		if err := os.WriteFile(procs, []byte("0"), 0); err != nil {
			return nil, fmt.Errorf("joining the app's cgroup: %w", err)
		}
	}
	if c.OOMScoreAdj != nil {
		if err := cgroups.SetOOMScoreAdj(0, *c.OOMScoreAdj); err != nil {
			return nil, err
		}
	}
	spec := c.ExecSpec
	spec.Path, spec.Args = cmd[0], cmd
	spec.Root = filepath.Join(root, podlayout.InPodAppsDir, app, "rootfs")
	if len(spec.Env) == 0 {
		if spec.Env, err = readEnvFile(filepath.Join(root, podlayout.InPodEnvDir, app)); err != nil {
			return nil, err
		}
	}
	return &entered{ExecSpec: spec, cgroupNS: len(c.CgroupKeys) > 0}, nil
}

// withTerm is env with TERM set to the caller's term, or vt100 when the
// caller has none, as rkt 1.30's enter did: an entered command is usually
// interactive, on the caller's terminal, not the app's.
func withTerm(env []string, term string) []string {
	if term == "" {
		term = "vt100"
	}
	out := slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "TERM=") })
	return append(out, "TERM="+term)
}

// readEnvFile reads KEY=VALUE lines; a missing file gives rkt's default
// PATH only.
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return []string{"PATH=" + defaultPath}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the app environment: %w", err)
	}
	defer f.Close()
	var env []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.Contains(line, "=") {
			env = append(env, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the app environment: %w", err)
	}
	if envValue(env, "PATH") == "" {
		env = append(env, "PATH="+defaultPath)
	}
	return env, nil
}

// defaultPath is rkt's default PATH for apps.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}
