package cgroups

import (
	"errors"
	"fmt"
)

var (
	// ErrNoCgroups: no cgroup hierarchy is mounted in the caller's view.
	ErrNoCgroups = errors.New("no cgroup hierarchy is mounted (is /sys/fs/cgroup mounted?)")
	// ErrControllerMissing: a limit needs a controller that no mounted
	// hierarchy carries, or that the parent cgroup does not delegate.
	ErrControllerMissing = errors.New("cgroup controller not available")
	// ErrInternalProcesses: on cgroup v2, a controller cannot be enabled for
	// the children of a cgroup that holds processes itself.
	ErrInternalProcesses = errors.New("cgroup holds processes, so it cannot delegate controllers to child cgroups (cgroup v2 no-internal-process rule)")
	// ErrNotCgroup: a directory given to Load or Destroy is not in a cgroup
	// file system, or not a pod's cgroup.
	ErrNotCgroup = errors.New("not a cgroup directory")
	// ErrProcessesRemain: Destroy gave up while processes were still in the tree.
	ErrProcessesRemain = errors.New("processes remain in the cgroup")
	// ErrInvalidName: a cgroup name that is empty, has a slash, or could be
	// taken for a control file.
	ErrInvalidName = errors.New("invalid cgroup name")
	// ErrInvalidResources: a value out of the kernel's range.
	ErrInvalidResources = errors.New("invalid resource limits")
)

// ControllerError says which controller could not be used where.
type ControllerError struct {
	Controller string
	Dir        string // the cgroup directory that lacked it ("" when no hierarchy has it)
	Err        error  // ErrControllerMissing or ErrInternalProcesses, possibly wrapping the syscall error
}

func (e *ControllerError) Error() string {
	if e.Dir == "" {
		return fmt.Sprintf("using cgroup controller %q: %v", e.Controller, e.Err)
	}
	return fmt.Sprintf("using cgroup controller %q in %s: %v", e.Controller, e.Dir, e.Err)
}

func (e *ControllerError) Unwrap() error { return e.Err }
