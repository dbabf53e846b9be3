package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// MkdirAll is os.MkdirAll, but every directory it creates gets exactly
// perm, whatever the process's umask, plus the setgid bit it inherits from
// its parent: the store's group-writable directories (mode 2770 below a
// setgid data dir) must stay writable for the other members of the group
// that owns the data dir, where a umask of 022 would make them 2750.
// perm is a Go mode: setgid is fs.ModeSetgid, not 0o2000.
// Directories that already exist are left as they are.
func MkdirAll(path string, perm fs.FileMode) error {
	fi, err := os.Stat(path)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("making directory %s: %w", path, errNotDir)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("making directory %s: %w", path, err)
	}
	if parent := filepath.Dir(path); parent != path {
		if err := MkdirAll(parent, perm); err != nil {
			return err
		}
	}
	if err := os.Mkdir(path, perm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // made by someone else meanwhile: theirs to set
		}
		return fmt.Errorf("making directory %s: %w", path, err)
	}
	// chmod(2), not mkdir's mode: the umask does not apply to it. The
	// setgid bit the directory inherited from its parent stays.
	fi, err = os.Stat(path)
	if err != nil {
		return fmt.Errorf("making directory %s: %w", path, err)
	}
	if err := os.Chmod(path, perm|fi.Mode()&fs.ModeSetgid); err != nil {
		return fmt.Errorf("making directory %s: setting mode: %w", path, err)
	}
	return nil
}

var errNotDir = errors.New("not a directory")
