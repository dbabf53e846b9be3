// Package rmguard decides whether a directory may be removed to be
// replaced, as `rkt image extract/render --overwrite` does: never one that
// is, or contains, a mount point (removing it would delete the files of
// whatever is mounted there), a system directory, or a directory rkt keeps
// its own state in. Every check is done, on the path with its symlinks
// resolved, before anything is removed; RemoveAll then removes without
// ever entering another mount, so a mount made after the check is refused
// too.
package rmguard

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rkt/rkt/common/mountinfo"
)

// SystemDirs are refused as a whole: removing one would break the host.
var SystemDirs = []string{
	"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64",
	"/libx32", "/media", "/mnt", "/opt", "/proc", "/root", "/run", "/sbin",
	"/srv", "/sys", "/tmp", "/usr", "/usr/bin", "/usr/lib", "/usr/lib64",
	"/usr/local", "/usr/sbin", "/usr/share", "/var", "/var/lib", "/var/log",
	"/var/tmp",
}

// Check returns nil when dir may be removed: it does not exist, or it is
// none of SystemDirs, does not contain, equal or lie inside any of
// protected (rkt's data and configuration directories) and is not and
// contains no mount point. Symlinks in dir and in protected are resolved
// first, so that a link cannot dodge the comparison.
func Check(dir string, protected []string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("resolving %s: %w", dir, err)
	}
	// A symlink itself is removed, not what it points to; still, judge
	// both the link's own path and its target.
	for _, p := range uniq(abs, real) {
		if err := checkPath(dir, p, protected); err != nil {
			return err
		}
	}
	info, err := os.Lstat(abs)
	if err != nil {
		return fmt.Errorf("checking %s: %w", dir, err)
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		return nil // only the link goes
	}
	mounts, err := mountinfo.Under(real)
	if err != nil {
		return fmt.Errorf("checking %s for mount points: %w", dir, err)
	}
	if len(mounts) > 0 {
		return fmt.Errorf("refusing to remove %s: it %w (%s); unmount it first", dir, ErrMountPoint, mounts[len(mounts)-1])
	}
	return nil
}

func checkPath(dir, p string, protected []string) error {
	for _, s := range SystemDirs {
		if p == s {
			return fmt.Errorf("refusing to remove %s: it %w (%s)", dir, ErrProtected, s)
		}
	}
	for _, prot := range protected {
		if prot == "" {
			continue
		}
		for _, q := range resolved(prot) {
			if within(q, p) || within(p, q) {
				return fmt.Errorf("refusing to remove %s: it %w (it is, contains or lies inside rkt's directory %s)", dir, ErrProtected, prot)
			}
		}
	}
	return nil
}

// resolved is p made absolute, and also with its symlinks resolved when it
// exists.
func resolved(p string) []string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return []string{abs}
	}
	return uniq(abs, real)
}

// within reports whether p is dir or lies under it.
func within(p, dir string) bool {
	return dir == "/" || p == dir || strings.HasPrefix(p, dir+"/")
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}
