package main

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/rkt/rkt/common/mountinfo"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage1/stage1cmd"
)

// runEnter runs CMD in the app's mount namespace and root, with the app's
// environment (read from /proc/<pid>/environ). The host's nsenter does the
// joining: a multi-threaded Go process cannot join a mount namespace.
func runEnter(args []string) error {
	ea, nsenter, err := stage1cmd.ParseEnter(args)
	if err != nil {
		return err
	}
	if err := waitExeced(ea.Pid, execWait); err != nil {
		return fmt.Errorf("entering app %q: %w", ea.AppName, err)
	}
	env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(ea.Pid), "environ"))
	if err != nil {
		return fmt.Errorf("entering app %q: reading its environment: %w", ea.AppName, err)
	}
	var appEnv []string
	for _, kv := range bytes.Split(env, []byte{0}) {
		if len(kv) > 0 {
			appEnv = append(appEnv, string(kv))
		}
	}
	argv := []string{nsenter, "--target", strconv.Itoa(ea.Pid), "--mount", "--root", "--wd", "--"}
	argv = append(argv, ea.Cmd...)
	if err := unix.Exec(nsenter, argv, appEnv); err != nil {
		return fmt.Errorf("entering app %q: executing %s: %w", ea.AppName, nsenter, err)
	}
	return nil
}

// execWait bounds how long enter waits for /run to exec the app.
const execWait = 5 * time.Second

// waitExeced waits until pid is no longer this binary: /run writes the pid
// file just before it chroots and execs the app, and until the exec the
// process has neither the app's root nor its environment.
func waitExeced(pid int, timeout time.Duration) error {
	self, err := os.Stat("/proc/self/exe")
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		fi, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
		if err != nil {
			return fmt.Errorf("%w: pid %d: %v", stage1cmd.ErrNoPid, pid, err)
		}
		if !os.SameFile(fi, self) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d has not started the app after %v", pid, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// pidFileWait bounds how long stop waits for a starting pod's pid file.
const pidFileWait = 5 * time.Second

// runStop signals the app (pid), then its process group (pgid): the app's
// stop signal (SIGTERM unless its image or the pod manifest names another,
// as an OCI image's StopSignal does), or SIGKILL with --force. Run in the
// pod directory.
func runStop(args []string) error {
	sa, err := stage1cmd.ParseStop(args)
	if err != nil {
		return err
	}
	sig := unix.SIGKILL
	if !sa.Force {
		if sig, err = appStopSignal("."); err != nil {
			// The pod must still stop: with rkt's default signal.
			fmt.Fprintf(os.Stderr, "stop: pod %s: %v; sending SIGTERM\n", sa.UUID, err)
			sig = unix.SIGTERM
		}
	}
	pid, err := stage1cmd.WaitPidFile(podlayout.PidFile, pidFileWait)
	if err != nil {
		return fmt.Errorf("stopping pod %s: %w", sa.UUID, err)
	}
	if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("stopping pod %s: signalling pid %d: %w", sa.UUID, pid, err)
	}
	if pgid, err := stage1cmd.ReadPidFile(podlayout.PgidFile); err == nil {
		if err := unix.Kill(-pgid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("stopping pod %s: signalling process group %d: %w", sa.UUID, pgid, err)
		}
	}
	return nil
}

// runGC unmounts whatever is still mounted under the pod's stage1 rootfs
// on the host (the app's own mounts live in its namespace and die with it;
// this catches leftovers), deepest first, detaching busy ones. The app
// rootfs mount made by stage0 is left to stage0.
func runGC(args []string) error {
	ga, pod, err := stage1cmd.ParseGC(args)
	if err != nil {
		return err
	}
	pm, err := readPodManifest(pod)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("collecting pod %s: %w", ga.UUID, err)
	}
	mounts, err := mountinfo.Points()
	if err != nil {
		return fmt.Errorf("collecting pod %s: %w", ga.UUID, err)
	}
	var under []string
	for _, app := range pm.Apps {
		if podlayout.ValidAppName(app.Name.String()) != nil {
			continue
		}
		rootfs := podlayout.AppRootfs(pod, app.Name.String())
		for _, m := range mounts {
			if strings.HasPrefix(m, rootfs+"/") {
				under = append(under, m)
			}
		}
	}
	sort.Slice(under, func(i, j int) bool { return len(under[i]) > len(under[j]) })
	for _, m := range under {
		if err := unix.Unmount(m, 0); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("collecting pod %s: unmounting %s: %w", ga.UUID, m, err)
			}
		}
	}
	return nil
}
