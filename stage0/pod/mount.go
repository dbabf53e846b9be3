package pod

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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
		mps, err := mountsUnder(root)
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
	mps, err := mountsUnder(root)
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

// mountsUnder lists the mount points at or under root, in unmount order:
// deepest first, later mounts (stacked on top) before earlier ones.
func mountsUnder(root string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	type mp struct {
		path  string
		depth int
		order int
	}
	var found []mp
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for i := 0; sc.Scan(); i++ {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeMountinfo(fields[4])
		if p != root && !strings.HasPrefix(p, root+"/") && root != "/" {
			continue
		}
		found = append(found, mp{p, strings.Count(p, "/"), i})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	sort.SliceStable(found, func(i, j int) bool {
		if found[i].depth != found[j].depth {
			return found[i].depth > found[j].depth
		}
		return found[i].order > found[j].order
	})
	out := make([]string, len(found))
	for i, m := range found {
		out[i] = m.path
	}
	return out, nil
}

// unescapeMountinfo decodes the \ooo octal escapes mountinfo uses for
// space, tab, newline and backslash.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

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
		mps, merr := mountsUnder(path)
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
