package pod

import (
	"errors"
	"fmt"
	"github.com/rkt/rkt/common/mountinfo"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// UnmountAll unmounts every mount at or under root (as /proc/self/mountinfo
// lists them), deepest first and, at one path, the topmost first. A mount
// that is busy is detached lazily (MNT_DETACH). It fails with
// ErrMountsRemain if mounts are still there after a few passes.
func UnmountAll(root string) error {
	root, err := canonical(root)
	if err != nil {
		return fmt.Errorf("unmounting under %s: %w", root, err)
	}
	for pass := 0; pass < 8; pass++ {
		mps, err := mountinfo.Under(root)
		if err != nil {
			return fmt.Errorf("unmounting under %s: %w", root, err)
		}
		if len(mps) == 0 {
			return nil
		}
		for _, mp := range mps {
			if err := unmount(mp); err != nil {
				return fmt.Errorf("unmounting under %s: %w", root, err)
			}
		}
	}
	mps, err := mountinfo.Under(root)
	if err != nil {
		return fmt.Errorf("unmounting under %s: %w", root, err)
	}
	if len(mps) > 0 {
		return fmt.Errorf("unmounting under %s: %w: %s", root, ErrMountsRemain, strings.Join(mps, ", "))
	}
	return nil
}

func unmount(mp string) error {
	for {
		err := unix.Unmount(mp, unix.UMOUNT_NOFOLLOW)
		switch {
		case err == nil, errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			// EINVAL/ENOENT: no longer a mount point (a parent went first,
			// or propagation took it).
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EBUSY):
			if err := unix.Unmount(mp, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil &&
				!errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("detaching %s: %w", mp, err)
			}
			return nil
		default:
			return fmt.Errorf("unmounting %s: %w", mp, err)
		}
	}
}

// canonical makes root absolute and resolves symlinks, as mountinfo shows
// resolved paths.
func canonical(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r, nil
	}
	return abs, nil
}

// removeTree removes path and everything under it without ever crossing
// into another mount: each directory is opened with RESOLVE_NO_XDEV, and a
// mount point (which cannot be unlinked either) stops the removal with
// ErrMountsRemain. Nothing behind a bind mount is touched.
func removeTree(path string) error {
	parent, name := filepath.Dir(path), filepath.Base(path)
	pfd, err := unix.Open(parent, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	defer unix.Close(pfd)
	err = removeAt(pfd, name, path)
	if errors.Is(err, unix.ENOSYS) {
		// No openat2: rely on the mountinfo check alone.
		mps, merr := mountinfo.Under(path)
		if merr != nil {
			return fmt.Errorf("removing %s: %w", path, merr)
		}
		if len(mps) > 0 {
			return fmt.Errorf("removing %s: %w: %s", path, ErrMountsRemain, strings.Join(mps, ", "))
		}
		return os.RemoveAll(path)
	}
	return err
}

func removeAt(dirfd int, name, shown string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	switch {
	case err == nil, errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("removing %s: %w: it is a mount point", shown, ErrMountsRemain)
	case !errors.Is(err, unix.EISDIR):
		return fmt.Errorf("removing %s: %w", shown, err)
	}
	fd, err := unix.Openat2(dirfd, name, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_XDEV | unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) {
		return err
	}
	if errors.Is(err, unix.EXDEV) {
		return fmt.Errorf("removing %s: %w: it is a mount point", shown, ErrMountsRemain)
	}
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing %s: %w", shown, err)
	}
	d := os.NewFile(uintptr(fd), shown)
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("removing %s: %w", shown, err)
	}
	for _, n := range names {
		if err := removeAt(fd, n, shown+"/"+n); err != nil {
			return err
		}
	}
	if err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		if errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("removing %s: %w: it is a mount point", shown, ErrMountsRemain)
		}
		return fmt.Errorf("removing %s: %w", shown, err)
	}
	return nil
}
