package seccomp

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Install applies filter to every thread of the calling process
// (SECCOMP_FILTER_FLAG_TSYNC). The caller must have set no_new_privs or
// hold CAP_SYS_ADMIN. Filters stack: one installed cannot be removed.
func Install(filter []unix.SockFilter) error {
	return install(filter, unix.SECCOMP_FILTER_FLAG_TSYNC)
}

// InstallThread applies filter to the calling OS thread only; the caller
// must have locked its goroutine to the thread (runtime.LockOSThread) and
// exec from it. Same privilege rule as Install.
func InstallThread(filter []unix.SockFilter) error {
	return install(filter, 0)
}

func install(filter []unix.SockFilter, flags uintptr) error {
	if len(filter) == 0 {
		return fmt.Errorf("installing seccomp filter: %w: empty program", ErrBadProfile)
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(filter)
	if errno != 0 {
		return fmt.Errorf("installing seccomp filter: %w", errno)
	}
	if r != 0 {
		return fmt.Errorf("installing seccomp filter: thread %d cannot be synchronised", r)
	}
	return nil
}

// InstallAndExec installs filter on the calling thread and replaces the
// process with path (absolute), argv and env. The arguments are converted
// before the filter goes in, so between the two only execve(2) runs on the
// thread. It returns only on failure.
func InstallAndExec(filter []unix.SockFilter, path string, argv, env []string) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ex, err := NewExecve(path, argv, env)
	if err != nil {
		return err
	}
	if err := InstallThread(filter); err != nil {
		return err
	}
	return ex.Exec()
}

// Execve is an execve(2) call whose arguments are already in the form the
// kernel reads, so that making it allocates nothing and calls nothing but
// execve: usable after a strict filter is in place.
type Execve struct {
	path       *byte
	argv, envv []*byte
	name       string
}

// NewExecve prepares the call.
func NewExecve(path string, argv, env []string) (*Execve, error) {
	p, err := syscall.BytePtrFromString(path)
	if err != nil {
		return nil, fmt.Errorf("executing %q: %w", path, err)
	}
	a, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return nil, fmt.Errorf("executing %q: %w", path, err)
	}
	e, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return nil, fmt.Errorf("executing %q: %w", path, err)
	}
	return &Execve{path: p, argv: a, envv: e, name: path}, nil
}

// Exec makes the call; it returns only on failure.
func (x *Execve) Exec() error {
	_, _, errno := unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(x.path)),
		uintptr(unsafe.Pointer(&x.argv[0])), uintptr(unsafe.Pointer(&x.envv[0])))
	runtime.KeepAlive(x)
	return fmt.Errorf("executing %q: %w", x.name, errno)
}
