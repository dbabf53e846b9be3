package rmguard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// RemoveAll removes dir and everything under it, as os.RemoveAll does,
// but never inside another mount: each directory is opened (without
// following symlinks) from its parent's descriptor and its mount ID read
// from the open descriptor before anything in it is removed, so a mount
// made after Check, even during the removal, stops it with ErrMountPoint
// instead of having the mounted files deleted. dir itself must be in its
// parent's mount. A dir that does not exist is not an error.
func RemoveAll(dir string) error {
	dir = filepath.Clean(dir)
	parent, err := unix.Open(filepath.Dir(dir), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("removing %s: %w", dir, &os.PathError{Op: "open", Path: filepath.Dir(dir), Err: err})
	}
	defer unix.Close(parent)
	mnt, err := mountID(parent)
	if err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return removeAt(parent, filepath.Base(dir), dir, mnt)
}

// removeAt removes name, at path, from the directory parent, all of
// whose directories must be in mount mnt.
func removeAt(parent int, name, path string, mnt uint64) error {
	err := unix.Unlinkat(parent, name, 0)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EISDIR {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	fd, err := unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	d := os.NewFile(uintptr(fd), path)
	defer d.Close()
	m, err := mountID(fd)
	if err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	if m != mnt {
		return fmt.Errorf("refusing to remove %s: it %w (mounted after it was checked); unmount it first", path, ErrMountPoint)
	}
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	for _, n := range names {
		if err := removeAt(fd, n, filepath.Join(path, n), mnt); err != nil {
			return err
		}
	}
	if err := unix.Unlinkat(parent, name, unix.AT_REMOVEDIR); err != nil && err != unix.ENOENT {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}

// mountID is the ID of the mount the open file fd lies in.
func mountID(fd int) (uint64, error) {
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, fmt.Errorf("reading the mount ID: %w", err)
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 {
		return 0, errors.New("reading the mount ID: the kernel does not report it (Linux 5.8 or later is needed)")
	}
	return stx.Mnt_id, nil
}
