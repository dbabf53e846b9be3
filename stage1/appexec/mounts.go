package appexec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// BindInto binds src (a path of the caller's, outside root) onto target inside root,
// creating the target as a directory or an empty file to match src.
func BindInto(root *os.Root, target, src string, recursive, readOnly bool) error {
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("binding %s: %w", target, err)
	}
	rel, err := ResolveInRoot(root, target)
	if err != nil {
		return fmt.Errorf("binding %s: %w", target, err)
	}
	if rel == "." {
		return fmt.Errorf("binding %s: %w: the target is the rootfs itself", target, ErrEscapingPath)
	}
	f, err := OpenTarget(root, rel, fi.IsDir())
	if err != nil {
		return fmt.Errorf("binding %s: %w", target, err)
	}
	flags := uintptr(unix.MS_BIND)
	if recursive {
		flags |= unix.MS_REC
	}
	err = unix.Mount(src, FdPath(f), "", flags, "")
	f.Close()
	if err != nil {
		return fmt.Errorf("binding %s onto %s: %w", src, target, err)
	}
	if readOnly {
		// Reopen: the new mount now covers the target.
		g, err := root.Open(rel)
		if err != nil {
			return fmt.Errorf("binding %s: reopening: %w", target, err)
		}
		err = RemountReadOnly(FdPath(g))
		g.Close()
		if err != nil {
			return fmt.Errorf("making %s read-only: %w", target, err)
		}
	}
	return nil
}

// MountInto mounts a file system of type fstype on directory target inside
// root.
func MountInto(root *os.Root, target, fstype string, flags uintptr, data string) error {
	rel, err := ResolveInRoot(root, target)
	if err != nil {
		return fmt.Errorf("mounting %s on %s: %w", fstype, target, err)
	}
	f, err := OpenTarget(root, rel, true)
	if err != nil {
		return fmt.Errorf("mounting %s on %s: %w", fstype, target, err)
	}
	defer f.Close()
	if err := unix.Mount(fstype, FdPath(f), fstype, flags, data); err != nil {
		return fmt.Errorf("mounting %s on %s: %w", fstype, target, err)
	}
	return nil
}

func FdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// OpenTarget creates rel (already resolved, relative to root) as a
// directory or an empty file if missing, and opens it.
func OpenTarget(root *os.Root, rel string, dir bool) (*os.File, error) {
	if parent := path.Dir(rel); parent != "." {
		if err := root.MkdirAll(parent, 0o755); err != nil {
			return nil, err
		}
	}
	if dir {
		if err := root.Mkdir(rel, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		f, err := root.Open(rel)
		if err != nil {
			return nil, err
		}
		if fi, err := f.Stat(); err != nil || !fi.IsDir() {
			f.Close()
			return nil, fmt.Errorf("mount target %s: a directory is needed: %w", rel, syscall.ENOTDIR)
		}
		return f, nil
	}
	f, err := root.OpenFile(rel, os.O_RDONLY|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o644)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("mount target %s: a file is needed: %w", rel, syscall.EISDIR)
	}
	return f, nil
}

// maxSymlinks bounds symlink resolution, as the kernel's ELOOP does.
const maxSymlinks = 40

// ResolveInRoot resolves p as the app will see it after chroot: absolute
// symlinks restart at the rootfs and ".." stops at it. It returns the
// resolved path relative to root ("." for the root itself); components
// that do not exist yet are kept as they are. The result is used through
// root, which refuses to leave the rootfs even if the image changes
// under us.
func ResolveInRoot(root *os.Root, p string) (string, error) {
	pending := strings.Split(strings.Trim(p, "/"), "/")
	var done []string
	links := 0
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := strings.Join(append(done, c), "/")
		fi, err := root.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			done = append(done, c)
			continue
		}
		if err != nil {
			return "", fmt.Errorf("resolving %s in the app rootfs: %w", p, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		links++
		if links > maxSymlinks {
			return "", fmt.Errorf("resolving %s in the app rootfs: %w", p, syscall.ELOOP)
		}
		dest, err := root.Readlink(cur)
		if err != nil {
			return "", fmt.Errorf("resolving %s in the app rootfs: %w", p, err)
		}
		if strings.HasPrefix(dest, "/") {
			done = done[:0]
		}
		pending = append(strings.Split(strings.Trim(dest, "/"), "/"), pending...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return strings.Join(done, "/"), nil
}

// RemountReadOnly makes the mount at target read-only, keeping its other
// flags (a bind remount must repeat nosuid, nodev, noexec).
func RemountReadOnly(target string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return err
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
	for _, m := range []struct{ st, ms int64 }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if st.Flags&m.st != 0 {
			flags |= uintptr(m.ms)
		}
	}
	return unix.Mount("", target, "", flags, "")
}
