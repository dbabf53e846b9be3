// Package idmap makes idmapped mounts: read-only clones of a directory
// tree whose file owners are shifted into a user namespace's id range, the
// way --private-users pods see their images without a chown.
package idmap

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Attach attaches at target a read-only clone of the tree at src whose
// ids are shifted by the user namespace ns.
func Attach(src, target string, ns *os.File) error {
	fd, err := clone(src, ns)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attaching %s: %w", target, err)
	}
	return nil
}

// clone returns a detached, read-only clone of the tree at src idmapped
// by ns.
func clone(src string, ns *os.File) (int, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("cloning %s: %w", src, err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP | unix.MOUNT_ATTR_RDONLY, Userns_fd: uint64(ns.Fd())}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("idmapping %s: %w", src, err)
	}
	return fd, nil
}

// UserNS returns a new user namespace mapping ids 0..size-1 to
// base..base+size-1, the mapping idmapped mounts take from it. A user
// namespace needs a process: a child is created in one, traced so that it
// stops at its execve before running anything, and is killed once the
// namespace is open.
func UserNS(base, size int) (*os.File, error) {
	// The tracer is a thread, not a process: the child is started,
	// waited for and reaped from this one.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"rkt-userns"}, &syscall.ProcAttr{
		Env: []string{},
		Sys: &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: base, Size: size}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: base, Size: size}},
			Ptrace:      true,
			Pdeathsig:   syscall.SIGKILL,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("making a user namespace: %w", err)
	}
	defer func() {
		syscall.Kill(pid, syscall.SIGKILL)
		var ws syscall.WaitStatus
		for {
			if _, err := syscall.Wait4(pid, &ws, syscall.WALL, nil); !errors.Is(err, syscall.EINTR) {
				break
			}
		}
	}()
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, syscall.WALL, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("making a user namespace: waiting for its process: %w", err)
	}
	if !ws.Stopped() {
		return nil, fmt.Errorf("making a user namespace: its process did not stop at exec (status %v)", ws)
	}
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/user")
	if err != nil {
		return nil, fmt.Errorf("making a user namespace: %w", err)
	}
	return f, nil
}

// Supported reports, as nil, whether dir's filesystem can be idmapped on
// this kernel (Linux 5.12 and later, and a filesystem that allows it:
// ramfs, for one, does not). It makes an idmapped clone of dir and drops
// it unattached: nothing is mounted.
func Supported(dir string) error {
	ns, err := UserNS(probeBase, 1)
	if err != nil {
		return err
	}
	defer ns.Close()
	fd, err := clone(dir, ns)
	if err != nil {
		return err
	}
	unix.Close(fd)
	return nil
}

// probeBase is the host id Supported maps the probe's single id to; no
// file is ever created through the probe.
const probeBase = 0x7fff0000
