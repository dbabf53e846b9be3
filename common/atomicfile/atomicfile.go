// Package atomicfile writes files so that a reader sees either the old
// content or the new one, never a part, and so that a crash leaves at most a
// temp file beside the target.
//
// Invariant: the temp file lives in the target's directory (rename(2) is only
// atomic within one file system), is fsynced before the rename, and the
// directory is fsynced after it, so the new name survives a power loss.
//
// ReplaceFile keeps the first promise (all or nothing for a reader) but not
// the second: it is for runtime files that a crash makes meaningless anyway
// (a pod's in-progress markers, files of a directory made durable as a whole
// by one syncfs), where an fsync per file costs milliseconds on a disk.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// TempPrefix starts the name of every temp file this package creates, so
// that a sweep can recognise leftovers of a killed writer.
const TempPrefix = ".tmp-"

// WriteFile replaces path with data, with permissions perm.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, true)
}

// ReplaceFile replaces path with data, with permissions perm, through a temp
// file and a rename like WriteFile, but without any fsync: a reader sees the
// old content or the new one, never a part, while after a power loss either
// may be there, or an empty file. Use it only where the caller makes the
// data durable some other way or does not need it to be.
func ReplaceFile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

func write(path string, data []byte, perm os.FileMode, durable bool) (retErr error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, TempPrefix+base+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: creating temp file: %w", path, err)
	}
	defer func() {
		if retErr != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: setting mode: %w", path, err)
	}
	if durable {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("writing %s: syncing: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: closing: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: renaming into place: %w", path, err)
	}
	if !durable {
		return nil
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory so that renames and creations in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
