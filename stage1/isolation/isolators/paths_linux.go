package isolators

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// MaskedPaths are hidden from every app unless --insecure-options=paths:
// a file is covered by /dev/null, a directory by an empty read-only tmpfs.
// They leak host kernel state (kcore, keys, timers, scheduler internals)
// or give access to hardware interfaces.
var MaskedPaths = []string{
	"/proc/acpi",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/sys/firmware",
	"/sys/devices/virtual/powercap",
}

// ReadonlyPaths are made read-only for every app unless
// --insecure-options=paths: writing them changes the host's kernel.
var ReadonlyPaths = []string{
	"/proc/asound",
	"/proc/bus",
	"/proc/fs",
	"/proc/irq",
	"/proc/sys",
	"/proc/sysrq-trigger",
}

// ApplyPaths masks MaskedPaths and makes ReadonlyPaths read-only inside
// rootfs (an app's rootfs, with /proc and /sys already mounted in it), in
// the caller's mount namespace. insecure (--insecure-options=paths) turns
// it into a no-op. Paths missing from rootfs are skipped. Every path is
// opened beneath rootfs without following any symlink, and the mount is
// made on that opened file, so an image cannot redirect a mount to the
// host (ErrUnsafePath).
func ApplyPaths(rootfs string, insecure bool) error {
	if insecure {
		return nil
	}
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("applying path isolation to %s: %w", rootfs, err)
	}
	defer unix.Close(root)
	for _, p := range MaskedPaths {
		if err := mask(root, p); err != nil {
			return fmt.Errorf("applying path isolation to %s: masking %s: %w", rootfs, p, err)
		}
	}
	for _, p := range ReadonlyPaths {
		if err := readonly(root, p); err != nil {
			return fmt.Errorf("applying path isolation to %s: making %s read-only: %w", rootfs, p, err)
		}
	}
	return nil
}

// openBeneath opens p beneath root as an O_PATH descriptor without
// following any symlink; ok is false when p does not exist.
func openBeneath(root int, p string) (fd int, ok bool, err error) {
	fd, err = unix.Openat2(root, strings.TrimPrefix(p, "/"), &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	switch {
	case errors.Is(err, unix.ENOENT):
		return -1, false, nil
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV):
		return -1, false, fmt.Errorf("%w: %v", ErrUnsafePath, err)
	case err != nil:
		return -1, false, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, false, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		unix.Close(fd)
		return -1, false, fmt.Errorf("%w: %s is a symlink", ErrUnsafePath, p)
	}
	return fd, true, nil
}

func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// mask covers p with an empty read-only tmpfs (a directory) or /dev/null.
func mask(root int, p string) error {
	fd, ok, err := openBeneath(root, p)
	if !ok {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.Mount("tmpfs", fdPath(fd), "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0,mode=0555")
	}
	return unix.Mount(os.DevNull, fdPath(fd), "", unix.MS_BIND, "")
}

// readonly puts a read-only copy of the mount tree at p on top of p:
// open_tree clones it detached, mount_setattr makes the clone read-only
// (recursively), move_mount attaches it, so p is never writable through
// the new mount for a moment. Kernels without the new mount API (before
// 5.12) get a bind mount remounted read-only.
func readonly(root int, p string) error {
	fd, ok, err := openBeneath(root, p)
	if !ok {
		return err
	}
	defer unix.Close(fd)
	tree, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH|unix.AT_RECURSIVE)
	if errors.Is(err, unix.ENOSYS) {
		return readonlyClassic(root, p, fd)
	}
	if err != nil {
		return fmt.Errorf("cloning the mount: %w", err)
	}
	defer unix.Close(tree)
	err = unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
	if errors.Is(err, unix.ENOSYS) {
		return readonlyClassic(root, p, fd)
	}
	if err != nil {
		return fmt.Errorf("setting the clone read-only: %w", err)
	}
	if err := unix.MoveMount(tree, "", fd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("attaching the read-only clone: %w", err)
	}
	return nil
}

// readonlyClassic binds p onto itself, opens p again (now the new mount)
// and remounts that read-only, keeping the flags the kernel refuses to
// drop in a user namespace (nosuid, nodev, noexec, atime flags).
func readonlyClassic(root int, p string, fd int) error {
	if err := unix.Mount(fdPath(fd), fdPath(fd), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	top, ok, err := openBeneath(root, p)
	if !ok {
		if err == nil {
			err = unix.ENOENT
		}
		return err
	}
	defer unix.Close(top)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(top, &sfs); err != nil {
		return err
	}
	keep := uintptr(sfs.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
	return unix.Mount("", fdPath(top), "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|keep, "")
}
