package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// NetNSDir is where pod network namespaces are bind-mounted, beside the
// ones `ip netns add` makes, so that `ip netns exec rkt-<uuid> ...` works.
const NetNSDir = "/run/netns"

// NetNSPath is the path of the network namespace of pod uuid.
func NetNSPath(uuid string) string {
	return filepath.Join(NetNSDir, "rkt-"+uuid)
}

// ensureNetNSDir makes dir a mount point with shared propagation, as
// iproute2 does: a namespace bind-mounted in it then shows up in mount
// namespaces copied later (nspawn's), and its unmount reaches them, so a
// torn-down namespace is not kept alive by a copy of its mount.
func ensureNetNSDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("making %s shared: %w", dir, err)
	}
	// Not a mount point yet: bind it onto itself, then share it.
	if err := unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting %s onto itself: %w", dir, err)
	}
	if err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("making %s shared: %w", dir, err)
	}
	return nil
}

// createNetNS makes a new network namespace with its loopback up and
// bind-mounts it on path, which must not exist. The namespace is made on a
// locked OS thread of a throwaway goroutine that never unlocks it, so the
// runtime ends the thread instead of reusing it in the wrong namespace.
func createNetNS(path string) (retErr error) {
	if err := ensureNetNSDir(filepath.Dir(path)); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("creating %s: %w", path, ErrNetNSExists)
		}
		return fmt.Errorf("creating %s: %w", path, err)
	}
	f.Close()
	defer func() {
		if retErr != nil {
			os.Remove(path)
		}
	}()

	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the thread dies with this goroutine.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("unsharing the network namespace: %w", err)
			return
		}
		if err := loopbackUp(); err != nil {
			done <- err
			return
		}
		self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
			done <- fmt.Errorf("bind-mounting the network namespace on %s: %w", path, err)
			return
		}
		done <- nil
	}()
	return <-done
}

// loopbackUp sets IFF_UP on lo in the calling thread's network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	defer unix.Close(fd)
	req, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, req); err != nil {
		return fmt.Errorf("bringing lo up: reading flags: %w", err)
	}
	req.SetUint16(req.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, req); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	return nil
}

// removeNetNS unmounts and removes a namespace made by createNetNS. A path
// that is missing or no longer a mount point is not an error.
func removeNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil &&
		!errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}

// InNetNS runs fn on a locked OS thread that has joined the network
// namespace at path, and ends that thread afterwards. It is for callers
// (tests, diagnostics) that need to act inside a pod's network.
func InNetNS(path string, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the thread stays in the namespace and dies.
		f, err := os.Open(path)
		if err != nil {
			done <- fmt.Errorf("opening network namespace: %w", err)
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			done <- fmt.Errorf("joining network namespace %s: %w", path, err)
			return
		}
		done <- fn()
	}()
	return <-done
}
