package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/appc/spec/schema"
	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/entrypoint"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage1/stage1cmd"
)

// supervisorPath is the pod's PID 1, inside the stage1 rootfs.
const supervisorPath = "/supervisor"

// nspawnDirs is where systemd-nspawn keeps its per-machine propagation
// directories and locks on the host.
const nspawnDirs = "/run/systemd/nspawn"

func runInit(args []string) error {
	ra, pod, err := stage1cmd.ParseRun(args)
	if err != nil {
		return err
	}
	if err := startPod(pod, ra); err != nil {
		return fmt.Errorf("starting pod %s: %w", ra.UUID, err)
	}
	return nil
}

// startPod makes the pod's cgroups and network and execs nspawn; it
// returns only on failure, after undoing what it made.
func startPod(pod string, ra entrypoint.RunArgs) (retErr error) {
	plan, err := planPod(pod, ra)
	if err != nil {
		return err
	}
	if err := keepLockFD(); err != nil {
		return err
	}
	nspawn, err := findNspawn()
	if err != nil {
		return err
	}
	reqs, err := netRequests(ra, plan.rc)
	if err != nil {
		return err
	}
	apps, err := loadApps(pod, plan.pm)
	if err != nil {
		return err
	}
	cg, binds, err := setupCgroups(pod, ra.UUID, apps)
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			cg.destroy()
		}
	}()
	ctx := context.Background()
	net, netns, err := setupNetwork(ctx, pod, ra.UUID, ra, plan.rc, reqs, plan.debug)
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			net.teardown(ctx)
		}
	}()
	if err := net.pointMetadataURL(pod, plan.rc); err != nil {
		return err
	}
	var userns *userNS
	if plan.privateUsers {
		if userns, err = pickUserNS(ra.UUID); err != nil {
			return err
		}
		if err := userns.chownCgroups(cg, appNames(plan.pm)); err != nil {
			return err
		}
		if err := userns.chownEmptyVolumes(pod, plan.pm); err != nil {
			return err
		}
		if len(plan.rc.AppLayers) > 0 {
			if err := userns.mountLayers(pod, plan.rc); err != nil {
				return fmt.Errorf("%w (the host cannot give the pod its overlay rootfs without a chown: run it with --no-overlay, which copies and chowns the rootfs)", err)
			}
		}
	}
	if err := writeRuntimeFile(filepath.Join(pod, podlayout.PpidFile), []byte(strconv.Itoa(os.Getpid()))); err != nil {
		return err
	}
	argv := append([]string{nspawn}, plan.args...)
	if cg.scope && !slices.Contains(argv, "--keep-unit") {
		// The pod's own scope is the machine machined registers.
		argv = append(argv, "--keep-unit")
	}
	if f := capabilityFlag(apps); f != "" && !plan.allCaps {
		argv = append(argv, f)
	}
	if netns != "" && !plan.privateUsers {
		argv = append(argv, "--network-namespace-path="+netns)
	}
	argv = append(argv, binds...)
	argv = append(argv, "--", supervisorPath)
	// The rest of this function runs on one OS thread: a private mount
	// namespace made by unshare belongs to the calling thread, which is
	// the one that must exec.
	runtime.LockOSThread()
	if err := privateNspawnDirs(); err != nil {
		return err
	}
	if userns != nil {
		// nspawn idmaps the rootfs where it can, else chowns it; with
		// the apps' layers idmapped by mountLayers it must not touch
		// ownership at all.
		ownership := "--private-users-ownership=auto"
		if len(plan.rc.AppLayers) > 0 {
			ownership = "--private-users-ownership=off"
		}
		argv = slices.Insert(argv, 1, userns.nspawnFlag(), ownership)
	}
	if netns != "" && plan.privateUsers {
		if err := joinNetNS(netns); err != nil {
			return err
		}
	}
	if err := cg.enter(); err != nil {
		return err
	}
	// Last before the exec: from here on, the pod's PID 1 stops the pod
	// when this process dies (lifeline.go).
	lifeline, err := openLifeline(pod)
	if err != nil {
		return err
	}
	defer unix.Close(lifeline)
	if err := unix.Exec(nspawn, argv, plan.env); err != nil {
		return fmt.Errorf("executing %s: %w", nspawn, err)
	}
	return nil
}

type nspawnPlan struct {
	args  []string // nspawn's flags, without the network, the cgroup binds and the command
	env   []string
	pm    *schema.PodManifest
	rc    *podlayout.RuntimeConfig
	debug bool
	// privateUsers: the pod runs in a user namespace of its own.
	privateUsers bool
	// allCaps: nspawn keeps every capability (insecure capabilities).
	allCaps bool
}

// planPod prepares the stage1 rootfs (manifest and runtime-config copies,
// volume mount points) and returns nspawn's argument vector and
// environment.
func planPod(pod string, ra entrypoint.RunArgs) (*nspawnPlan, error) {
	manifestData, err := os.ReadFile(podlayout.PodManifest(pod))
	if err != nil {
		return nil, fmt.Errorf("reading pod manifest: %w", err)
	}
	var pm schema.PodManifest
	if err := json.Unmarshal(manifestData, &pm); err != nil {
		return nil, fmt.Errorf("reading pod manifest: %w", err)
	}
	rc, err := podlayout.ReadRuntimeConfig(podlayout.RuntimeConfigPath(pod))
	if errors.Is(err, os.ErrNotExist) {
		rc = &podlayout.RuntimeConfig{UUID: ra.UUID}
	} else if err != nil {
		return nil, err
	}
	rcData, err := os.ReadFile(podlayout.RuntimeConfigPath(pod))
	if errors.Is(err, os.ErrNotExist) {
		rcData, err = json.Marshal(rc)
	}
	if err != nil {
		return nil, fmt.Errorf("copying the runtime config: %w", err)
	}
	rootfs := podlayout.Stage1Rootfs(pod)
	if _, err := os.Stat(filepath.Join(rootfs, supervisorPath)); err != nil {
		return nil, fmt.Errorf("checking the stage1 rootfs: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(rootfs, "rkt"), 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", filepath.Join(rootfs, "rkt"), err)
	}
	for _, d := range []string{podlayout.StatusDir(pod), podlayout.EnvDir(pod)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	if err := copyIfChanged(podlayout.InPodManifestPath(pod), manifestData); err != nil {
		return nil, fmt.Errorf("copying the pod manifest into the pod: %w", err)
	}
	if err := copyIfChanged(podlayout.InPodRuntimeConfigPath(pod), rcData); err != nil {
		return nil, fmt.Errorf("copying the runtime config into the pod: %w", err)
	}
	if err := copyHostNameFiles(rootfs, rc); err != nil {
		return nil, err
	}

	debug := ra.Debug || rc.Debug
	interactive := ra.Interactive || rc.Interactive
	machine := "rkt-" + ra.UUID
	args := []string{"-D", rootfs, "--machine=" + machine}
	if !debug {
		args = append(args, "--quiet")
	}
	if ok, err := machinedReachable(); ok {
		args = append(args, "--register=yes")
		if os.Getenv("INVOCATION_ID") != "" {
			// Started by a systemd unit: register that unit as the
			// machine rather than creating a scope beside it.
			args = append(args, "--keep-unit")
		}
	} else {
		if debug {
			fmt.Fprintf(os.Stderr, "stage1: not registering the pod with systemd-machined: %v\n", err)
		}
		args = append(args, "--register=no", "--keep-unit")
	}
	hostname := rc.Hostname
	if hostname == "" {
		hostname = ra.Hostname
	}
	if hostname == "" {
		hostname = machine
	}
	args = append(args, "--hostname="+hostname)
	if interactive {
		args = append(args, "--console=interactive")
	} else {
		args = append(args, "--console=pipe")
	}
	args = append(args, "--kill-signal=SIGTERM", "--link-journal=no")
	// The supervisor runs Go code on one P: with two, the goroutines of
	// its start spread their first allocations over two per-P caches and
	// start an extra thread, about 50 more page faults (bench/README.md).
	// It waits on signals and children; its apps do not inherit this
	// variable (their environment is the manifest's).
	args = append(args, "--setenv=GOMAXPROCS=1")
	if os.Getenv("NOTIFY_SOCKET") != "" {
		args = append(args, "--notify-ready=yes")
	}
	ipc := rc.IPC
	if ipc == "" {
		ipc = ra.IPC
	}
	if ipc == "parent" {
		return nil, ErrIPCParent
	}
	allCaps := ra.DisableCapabilities || hasInsecure(rc, "capabilities")
	if allCaps {
		args = append(args, "--capability=all")
	}
	binds, err := volumeBinds(pod, &pm, rc)
	if err != nil {
		return nil, err
	}
	args = append(args, binds...)
	if fi, err := os.Stat(journalSocket); err == nil && fi.Mode().Type() == os.ModeSocket {
		// The supervisor sends the apps' output to the host's journald
		// (journal+console, as rkt 1.30's app units did): it finds the
		// socket at the same path in the stage1 rootfs. Apps never see it.
		args = append(args, "--bind-ro="+journalSocket)
		if v := os.Getenv("JOURNAL_STREAM"); v != "" {
			// nspawn passes its stdout and stderr on as they are
			// (--console=pipe): when they are a unit's journal stream
			// the supervisor sends each line once, with its fields.
			args = append(args, "--setenv=JOURNAL_STREAM="+v)
		}
	}

	env := filterEnv(os.Environ(), "SYSTEMD_LOG_LEVEL", "SYSTEMD_NSPAWN_CONTAINER_SERVICE", "SYSTEMD_SECCOMP",
		"SYSTEMD_NSPAWN_USE_CGNS", "SYSTEMD_NSPAWN_API_VFS_WRITABLE")
	env = append(env, "SYSTEMD_NSPAWN_CONTAINER_SERVICE=rkt")
	if debug {
		env = append(env, "SYSTEMD_LOG_LEVEL=debug")
	} else {
		env = append(env, "SYSTEMD_LOG_LEVEL=err")
	}
	// The supervisor installs the project's seccomp filter (whose baseline
	// is nspawn's own allow-list) in every app before it execs, and none
	// with --insecure-options=seccomp, which turns nspawn's off in rkt too.
	// nspawn's filter is redundant either way, and compiling it with
	// libseccomp is most of nspawn's start time.
	env = append(env, "SYSTEMD_SECCOMP=0")
	if cgroup2NSDelegate() {
		// No cgroup namespace: the supervisor's exec stub moves each app
		// from the _stage1 leaf into the app's cgroup, a sibling of the
		// leaf, which a cgroup namespace rooted inside the leaf forbids on
		// a cgroup2 mount with nsdelegate (systemd's).
		env = append(env, "SYSTEMD_NSPAWN_USE_CGNS=0")
	}
	if ra.DisablePaths || hasInsecure(rc, "paths") {
		// Without path restrictions nspawn's /proc/sys and /sys are
		// writable too, as in rkt.
		env = append(env, "SYSTEMD_NSPAWN_API_VFS_WRITABLE=yes")
	}
	return &nspawnPlan{args: args, env: env, pm: &pm, rc: rc, debug: debug,
		privateUsers: rc.PrivateUsers != "", allCaps: allCaps}, nil
}

func hasInsecure(rc *podlayout.RuntimeConfig, opt string) bool {
	for _, o := range rc.InsecureOptions {
		if o == opt {
			return true
		}
	}
	return false
}

// volumeBinds creates stage1/rootfs/rkt/volumes/<vol> for every volume of
// the pod and returns nspawn's --bind/--bind-ro flags that mount the
// volume's source there: the host path for kind=host, the pod's
// sharedVolumes/<vol> for kind=empty.
func volumeBinds(pod string, pm *schema.PodManifest, rc *podlayout.RuntimeConfig) ([]string, error) {
	var out []string
	for _, v := range pm.Volumes {
		name := v.Name.String()
		if err := podlayout.ValidAppName(name); err != nil {
			return nil, fmt.Errorf("volume %q: %w", name, err)
		}
		var src string
		switch v.Kind {
		case "host":
			src = v.Source
			if s := rc.HostVolumes[name]; s != "" {
				src = s
			}
			if !filepath.IsAbs(src) {
				return nil, fmt.Errorf("volume %q: host source %q is not an absolute path", name, src)
			}
		case "empty":
			src = podlayout.SharedVolumeDir(pod, name)
			if err := os.MkdirAll(src, 0o755); err != nil {
				return nil, fmt.Errorf("volume %q: creating %s: %w", name, src, err)
			}
		default:
			return nil, fmt.Errorf("volume %q: unknown kind %q (want host or empty)", name, v.Kind)
		}
		target := filepath.Join(podlayout.InPodVolumesDir, name)
		mp := podlayout.VolumeMountPoint(pod, name)
		if err := makeMountPoint(src, mp); err != nil {
			return nil, fmt.Errorf("volume %q: %w", name, err)
		}
		flag := "--bind="
		if v.ReadOnly != nil && *v.ReadOnly {
			flag = "--bind-ro="
		}
		opt := ""
		if v.Recursive != nil && !*v.Recursive {
			opt = ":norbind"
		}
		out = append(out, flag+escapeBind(src)+":"+escapeBind(target)+opt)
	}
	return out, nil
}

// makeMountPoint creates mp as a directory, or as an empty file when src
// is a file.
func makeMountPoint(src, mp string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("checking source: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(mp), 0o755); err != nil {
		return fmt.Errorf("creating mount point: %w", err)
	}
	if fi.IsDir() {
		if err := os.Mkdir(mp, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("creating mount point: %w", err)
		}
		return nil
	}
	f, err := os.OpenFile(mp, os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return fmt.Errorf("creating mount point: %w", err)
	}
	return f.Close()
}

// writeRuntimeFile replaces path with data by a temp file and rename(2),
// so readers see the old or the new content, but without fsync: the files
// written this way (ppid) name live processes and mean nothing after a
// crash of the machine, and the pod start must not wait for the disk.
func writeRuntimeFile(path string, data []byte) (retErr error) {
	f, err := os.CreateTemp(filepath.Dir(path), atomicfile.TempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if retErr != nil {
			os.Remove(f.Name())
		}
	}()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// copyIfChanged writes data to path unless path already holds it (stage0
// lays these copies out before run; run-prepared may have changed them).
// Like the ppid file, the copies are remade at every start, so they are
// written without fsync.
func copyIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return writeRuntimeFile(path, data)
}

// copyHostNameFiles gives the supervisor the host's /etc/resolv.conf for
// --dns=host and its /etc/hosts for --hosts-entry=host: inside the pod the
// host's files cannot be read.
func copyHostNameFiles(rootfs string, rc *podlayout.RuntimeConfig) error {
	copies := map[string]string{}
	if len(rc.DNS) == 1 && rc.DNS[0] == "host" {
		copies["/etc/resolv.conf"] = podlayout.InPodHostResolvConf
	}
	if names, ok := rc.HostsEntries["host"]; ok && len(names) == 0 {
		copies["/etc/hosts"] = podlayout.InPodHostHosts
	}
	for src, dst := range copies {
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("copying the host's %s into the pod: %w", src, err)
		}
		if err := copyIfChanged(filepath.Join(rootfs, dst), data); err != nil {
			return fmt.Errorf("copying the host's %s into the pod: %w", src, err)
		}
	}
	return nil
}

// journalSocket is journald's native socket on the host.
const journalSocket = "/run/systemd/journal/socket"

// bindEscaper escapes the separators of nspawn's --bind=SRC:DST syntax.
// One for the process: a Replacer of single bytes builds a 6 KiB table on
// its first use, page faults at each call when made per call.
var bindEscaper = strings.NewReplacer(`\`, `\\`, `:`, `\:`)

// escapeBind escapes the separators of nspawn's --bind=SRC:DST syntax.
// Most paths have none, and leave the escaper unbuilt.
func escapeBind(p string) string {
	if !strings.ContainsAny(p, `\:`) {
		return p
	}
	return bindEscaper.Replace(p)
}

func filterEnv(env []string, drop ...string) []string {
	out := env[:0:0]
next:
	for _, kv := range env {
		for _, d := range drop {
			if strings.HasPrefix(kv, d+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// keepLockFD checks the descriptor named by RKT_LOCK_FD and makes sure it
// survives the exec.
func keepLockFD() error {
	s := os.Getenv(entrypoint.EnvLockFD)
	if s == "" {
		return nil
	}
	fd, err := strconv.Atoi(s)
	if err != nil || fd < 0 {
		return fmt.Errorf("%s=%q: %w", entrypoint.EnvLockFD, s, ErrBadLockFD)
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		return fmt.Errorf("%s=%d: %w: %w", entrypoint.EnvLockFD, fd, ErrBadLockFD, err)
	}
	if flags&unix.FD_CLOEXEC != 0 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags&^unix.FD_CLOEXEC); err != nil {
			return fmt.Errorf("%s=%d: clearing close-on-exec: %w", entrypoint.EnvLockFD, fd, err)
		}
	}
	return nil
}

func findNspawn() (string, error) {
	if p, err := exec.LookPath("systemd-nspawn"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/bin/systemd-nspawn", "/bin/systemd-nspawn"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", ErrNoNspawn
}

// privateNspawnDirs gives nspawn a private tmpfs at /run/systemd/nspawn
// when the host's /run is not a tmpfs (hosts where systemd is not PID 1).
// nspawn refuses to clean up its propagation directory anywhere but on a
// tmpfs and prints an error for every pod otherwise. The calling thread
// gets a mount namespace of its own (slave to the host's, so the host's
// mounts stay visible) and must be the one that execs nspawn; nspawn
// makes the pod's namespaces from there.
func privateNspawnDirs() error {
	var st unix.Statfs_t
	if err := unix.Statfs("/run", &st); err == nil && st.Type == unix.TMPFS_MAGIC {
		return nil
	}
	if err := os.MkdirAll(nspawnDirs, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", nspawnDirs, err)
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("making a mount namespace for nspawn: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("making the mount namespace a slave: %w", err)
	}
	if err := unix.Mount("tmpfs", nspawnDirs, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755"); err != nil {
		return fmt.Errorf("mounting a tmpfs at %s: %w", nspawnDirs, err)
	}
	return nil
}

// cgroup2NSDelegate reports whether a cgroup2 hierarchy is mounted with
// nsdelegate, which makes cgroup namespaces delegation boundaries.
func cgroup2NSDelegate() bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	return err == nil && nsDelegateIn(data)
}

func nsDelegateIn(mountinfo []byte) bool {
	for _, line := range strings.Split(string(mountinfo), "\n") {
		// ... - cgroup2 <source> <super options>
		_, after, ok := strings.Cut(line, " - ")
		f := strings.Fields(after)
		if !ok || len(f) < 3 || f[0] != "cgroup2" {
			continue
		}
		if slices.Contains(strings.Split(f[2], ","), "nsdelegate") {
			return true
		}
	}
	return false
}

func appNames(pm *schema.PodManifest) []string {
	names := make([]string, 0, len(pm.Apps))
	for _, ra := range pm.Apps {
		names = append(names, ra.Name.String())
	}
	return names
}
