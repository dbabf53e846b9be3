// Package fscopy copies directory trees as a container runtime needs them
// copied: into another directory (a pod's rootfs without overlayfs, an
// image rendered for a user) or into a tar stream (an exported ACI).
//
// Invariants:
//   - nothing outside src is read: symlinks are copied as links, never
//     followed, and the walk does not follow them either;
//   - modes (set-id and sticky bits included), owners, modification times,
//     symlinks, device nodes, fifos and hard links (as hard links, within
//     the tree) are kept; extended attributes are not;
//   - without root, owners are left to the caller and device nodes are
//     skipped (they cannot be made), everything else is the same;
//   - Tree's destination must not exist: nothing already there is ever
//     overwritten or followed.
package fscopy

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// entry is one walked path with its stat.
type entry struct {
	path, rel string
	mode      fs.FileMode
	st        *syscall.Stat_t
}

// walk calls fn for src and everything under it, parents first.
func walk(src string, fn func(e entry) error) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("copying %s: no stat information", p)
		}
		return fn(entry{p, rel, fi.Mode(), st})
	})
}

// linkKey identifies an inode for hard link detection.
func linkKey(st *syscall.Stat_t) [2]uint64 { return [2]uint64{uint64(st.Dev), st.Ino} }

// Tree copies src (a directory, or a single file) to dst, which must not
// exist. Regular files are copied with copy_file_range where the kernel
// can (io.Copy between files).
func Tree(src, dst string) error {
	asRoot := os.Geteuid() == 0
	var dirs []entry
	targets := map[string]string{}
	links := map[[2]uint64]string{}
	err := walk(src, func(e entry) error {
		target := filepath.Join(dst, e.rel)
		targets[e.path] = target
		switch {
		case e.mode.IsDir():
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, e)
			return setOwnerMode(target, e.st, asRoot)
		case e.mode&fs.ModeSymlink != 0:
			dest, err := os.Readlink(e.path)
			if err != nil {
				return err
			}
			if err := os.Symlink(dest, target); err != nil {
				return err
			}
			if asRoot {
				if err := os.Lchown(target, int(e.st.Uid), int(e.st.Gid)); err != nil {
					return err
				}
			}
			return setTimes(target, e.st, false)
		}
		if e.st.Nlink > 1 {
			if first, ok := links[linkKey(e.st)]; ok {
				return os.Link(first, target)
			}
		}
		switch {
		case e.mode.IsRegular():
			if err := copyFile(e.path, target); err != nil {
				return err
			}
		case !asRoot && e.mode&(fs.ModeDevice|fs.ModeCharDevice) != 0:
			return nil
		default:
			if err := unix.Mknod(target, e.st.Mode, int(e.st.Rdev)); err != nil {
				return fmt.Errorf("copying %s: %w", e.path, err)
			}
		}
		if e.st.Nlink > 1 {
			links[linkKey(e.st)] = target
		}
		if err := setOwnerMode(target, e.st, asRoot); err != nil {
			return err
		}
		return setTimes(target, e.st, true)
	})
	if err != nil {
		return fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	// Directory times last: creating their entries changed them.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := setTimes(targets[dirs[i].path], dirs[i].st, true); err != nil {
			return fmt.Errorf("copying %s to %s: %w", src, dst, err)
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// setOwnerMode applies the owner (as root), then the mode: chown clears
// set-id bits.
func setOwnerMode(path string, st *syscall.Stat_t, asRoot bool) error {
	if asRoot {
		if err := os.Lchown(path, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	return unix.Chmod(path, st.Mode&0o7777)
}

func setTimes(path string, st *syscall.Stat_t, follow bool) error {
	ts := []unix.Timespec{unix.NsecToTimespec(st.Atim.Nano()), unix.NsecToTimespec(st.Mtim.Nano())}
	flags := 0
	if !follow {
		flags = unix.AT_SYMLINK_NOFOLLOW
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, flags)
}

// Tar writes src's tree to tw, every name under prefix ("rootfs" gives
// rootfs, rootfs/bin, ...): directories, regular files, symlinks, device
// nodes, fifos, and hard links as tar hard links, with numeric owners,
// modes and modification times. Sockets are skipped (a tar cannot hold
// them).
func Tar(tw *tar.Writer, src, prefix string) error {
	links := map[[2]uint64]string{}
	err := walk(src, func(e entry) error {
		name := filepath.ToSlash(filepath.Join(prefix, e.rel))
		if e.mode&fs.ModeSocket != 0 {
			return nil
		}
		link := ""
		if e.mode&fs.ModeSymlink != 0 {
			var err error
			if link, err = os.Readlink(e.path); err != nil {
				return err
			}
		}
		fi, err := os.Lstat(e.path)
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return fmt.Errorf("%s: %w", e.path, err)
		}
		h.Name = name
		if e.mode.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid = int(e.st.Uid), int(e.st.Gid)
		h.Uname, h.Gname = "", ""
		h.Format = tar.FormatPAX
		h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
		if e.mode.IsRegular() && e.st.Nlink > 1 {
			if first, ok := links[linkKey(e.st)]; ok {
				h.Typeflag, h.Linkname, h.Size = tar.TypeLink, first, 0
				return tw.WriteHeader(h)
			}
			links[linkKey(e.st)] = name
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !e.mode.IsRegular() {
			return nil
		}
		f, err := os.Open(e.path)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.CopyN(tw, f, h.Size); err != nil {
			return fmt.Errorf("%s: %w", e.path, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("writing %s to a tar: %w", src, err)
	}
	return nil
}
