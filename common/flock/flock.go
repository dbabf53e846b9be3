// Package flock takes advisory flock(2) locks on files and directories.
//
// Locks are per open file description: they are released when the Lock is
// closed or the process dies, which is what makes a held lock a reliable
// "someone is working on this" signal after a crash. A lock on a named file
// that may be removed and recreated must be re-checked after it is taken
// (see LockPath), or two processes can each lock a different inode.
package flock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned by the non-blocking calls when another holder has
// the lock.
var ErrLocked = errors.New("locked by another process")

// Mode is the kind of lock.
type Mode int

const (
	Shared Mode = iota
	Exclusive
)

// Lock is a held lock on an open file or directory.
type Lock struct {
	f *os.File
}

// LockPath opens path (creating a regular file when create is set and it is
// missing) and locks it. With wait unset it fails with ErrLocked instead of
// blocking. After locking, it re-checks that path still names the locked
// inode, so a lock file removed by another holder is never trusted.
func LockPath(path string, mode Mode, wait, create bool) (*Lock, error) {
	for {
		f, err := openLockFile(path, create)
		if err != nil {
			return nil, fmt.Errorf("opening lock %s: %w", path, err)
		}
		l := &Lock{f: f}
		if err := l.lock(mode, wait); err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		same, err := l.names(path)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if same {
			return l, nil
		}
		// Removed or replaced while we waited: try the new inode.
		l.Close()
		if !create {
			return nil, fmt.Errorf("locking %s: %w", path, os.ErrNotExist)
		}
	}
}

// FromFile locks an already open file; the Lock takes ownership of f.
func FromFile(f *os.File, mode Mode, wait bool) (*Lock, error) {
	l := &Lock{f: f}
	if err := l.lock(mode, wait); err != nil {
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return l, nil
}

func (l *Lock) lock(mode Mode, wait bool) error {
	how := unix.LOCK_SH
	if mode == Exclusive {
		how = unix.LOCK_EX
	}
	if !wait {
		how |= unix.LOCK_NB
	}
	for {
		err := unix.Flock(int(l.f.Fd()), how)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return ErrLocked
		default:
			return err
		}
	}
}

func (l *Lock) names(path string) (bool, error) {
	var held, named unix.Stat_t
	if err := unix.Fstat(int(l.f.Fd()), &held); err != nil {
		return false, err
	}
	if err := unix.Stat(path, &named); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, err
	}
	return held.Dev == named.Dev && held.Ino == named.Ino, nil
}

// Change converts the held lock to mode (flock(2) conversion is not atomic:
// another process may take the lock in between).
func (l *Lock) Change(mode Mode, wait bool) error {
	return l.lock(mode, wait)
}

// File is the locked file, e.g. to pass its descriptor to a child process.
func (l *Lock) File() *os.File { return l.f }

// Close releases the lock.
func (l *Lock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Held reports whether some process holds a lock on path that conflicts with
// a shared lock, i.e. an exclusive holder. It never blocks.
func Held(path string) (bool, error) {
	l, err := LockPath(path, Shared, false, false)
	if errors.Is(err, ErrLocked) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	l.Close()
	return false, nil
}

// openLockFile opens path read-only (flock needs no more), creating it
// when create is set. A lock file this creates is mode 0660 whatever the
// umask: in a data dir shared by group rkt, the next member to lock it
// may be anyone of the group.
func openLockFile(path string, create bool) (*os.File, error) {
	if !create {
		return os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	var f *os.File
	for {
		var err error
		f, err = os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL|unix.O_CLOEXEC, 0o660)
		if !errors.Is(err, fs.ErrExist) {
			if err != nil {
				return nil, err
			}
			break
		}
		f, err = os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
		if !errors.Is(err, fs.ErrNotExist) {
			return f, err // nil or opened: someone else's file
		}
		// Removed between the two opens: create it after all.
	}
	if err := f.Chmod(0o660); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
