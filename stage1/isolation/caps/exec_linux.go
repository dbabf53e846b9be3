package caps

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"unsafe"

	"github.com/moby/sys/capability"
	"github.com/rkt/rkt/stage1/isolation/seccomp"
	"golang.org/x/sys/unix"
)

// ExecSpec is everything PrepareAndExec needs to start one app. It
// marshals to JSON, so a supervisor can hand it to its exec stub.
type ExecSpec struct {
	Path string   // absolute inside Root, or a name searched in Env's PATH
	Args []string // argv, Args[0] included; empty: {Path}
	Env  []string
	Root string // chroot here first; "" keeps the root
	Dir  string // working directory inside Root; "" is "/"
	UID  int
	GID  int
	// Groups are the supplementary groups; empty clears them.
	Groups []int
	// Caps is the app's capability set (see the package doc for what a
	// non-root app gets).
	Caps Set
	// NoNewPrivileges sets no_new_privs (os/linux/no-new-privileges).
	NoNewPrivileges bool
	// Seccomp is installed last before execve; nil installs none.
	Seccomp []unix.SockFilter `json:",omitempty"`
}

// defaultPath is searched when Env has no PATH.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// PrepareAndExec applies spec to the calling process and executes the app
// in its place, in the order drawn in the package doc. It must run as root
// (with at least CAP_SETPCAP, CAP_SETUID, CAP_SETGID, CAP_SYS_CHROOT and,
// for a filter without no_new_privs, CAP_SYS_ADMIN). It returns only on
// failure, possibly after changing the process's root, ids or
// capabilities: the caller must then exit.
func PrepareAndExec(spec ExecSpec) error {
	runtime.LockOSThread()
	// Never unlocked: on failure the thread's credentials are half
	// changed, and the goroutine's thread dies with it when it returns.

	// The execve is prepared before the filter is in place, so that only
	// the execve itself runs under it.
	var ex *seccomp.Execve
	_, err := confine(spec, func(path string, argv []string) error {
		var err error
		ex, err = seccomp.NewExecve(path, argv, spec.Env)
		return err
	})
	if err != nil {
		return err
	}
	return ex.Exec()
}

// ConfineThread applies spec to the calling thread alone, in the same
// order as PrepareAndExec, and returns the path to execute. Root,
// working directory, bounding set, ids, capabilities, no_new_privs and
// the seccomp filter are all per-thread state, so a process forked from
// this thread (syscall.ForkExec) starts with exactly that confinement while
// the rest of the process keeps its own. The caller must have locked the
// goroutine to its thread and must never unlock it: the thread has to die
// with the goroutine. That cannot be the main thread, which the runtime
// never ends: a program that confines threads locks its main goroutine
// to the main thread in an init function, and ConfineThread refuses to run
// there. Everything the Go runtime and ForkExec do on the thread
// afterwards runs under spec's seccomp filter, so the filter must allow
// those syscalls (see RuntimeSyscalls).
func ConfineThread(spec ExecSpec) (string, error) {
	if unix.Gettid() == unix.Getpid() {
		return "", ErrMainThread
	}
	// The root and working directory live in the fs_struct the threads
	// share: give this thread its own first.
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return "", fmt.Errorf("giving the thread its own root and working directory: %w", err)
	}
	return confine(spec, nil)
}

// RuntimeSyscalls are the syscalls the Go runtime and syscall.ForkExec may
// make on a thread after ConfineThread: the parent's side of the fork
// (memory, signals, scheduling, the exec status pipe) and the child's
// until its execve (descriptors, process group or session and terminal,
// the RLIMIT_NOFILE the runtime restores).
// A filter that denies any of them must be applied through PrepareAndExec
// in a process of its own instead.
var RuntimeSyscalls = []string{
	"brk", "clone", "clone3", "close", "dup3", "execve", "exit", "exit_group",
	"fcntl", "futex", "getpid", "getrlimit", "gettid", "ioctl", "madvise",
	"mmap", "mprotect", "munmap", "nanosleep", "pipe2", "prlimit64", "read",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sched_yield",
	"setpgid", "setrlimit", "setsid", "sigaltstack", "tgkill", "write",
}

// confine applies spec to the calling thread up to, not including, the
// execve; prepare, when set, runs once the path is known and before any
// privilege is dropped.
func confine(spec ExecSpec, prepare func(path string, argv []string) error) (string, error) {
	if spec.Root != "" {
		if err := unix.Chroot(spec.Root); err != nil {
			return "", fmt.Errorf("entering app root %q: %w", spec.Root, err)
		}
		if err := unix.Chdir("/"); err != nil {
			return "", fmt.Errorf("entering app root %q: %w", spec.Root, err)
		}
	}
	path, err := lookPath(spec.Path, spec.Env)
	if err != nil {
		return "", err
	}
	argv := spec.Args
	if len(argv) == 0 {
		argv = []string{spec.Path}
	}
	if prepare != nil {
		if err := prepare(path, argv); err != nil {
			return "", err
		}
	}

	final := spec.Caps
	if spec.UID != 0 {
		final = 0
	}
	needAdmin := spec.Seccomp != nil && !spec.NoNewPrivileges && !final.Has(SysAdmin)
	stage := final
	if needAdmin {
		stage |= Of(SysAdmin)
	}

	if err := DropBounding(spec.Caps); err != nil {
		return "", err
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return "", fmt.Errorf("clearing ambient capabilities: %w", err)
	}
	if needAdmin && spec.UID != 0 {
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return "", fmt.Errorf("keeping capabilities across setuid: %w", err)
		}
	}
	if err := setIDs(spec.UID, spec.GID, spec.Groups); err != nil {
		return "", err
	}
	if spec.Dir != "" {
		if err := unix.Chdir(spec.Dir); err != nil {
			return "", fmt.Errorf("entering working directory %q: %w", spec.Dir, err)
		}
	}
	if err := capset(stage); err != nil {
		return "", err
	}
	var finalCaps capability.Capabilities
	if stage != final {
		if finalCaps, err = capState(final); err != nil {
			return "", err
		}
	}
	if spec.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return "", fmt.Errorf("setting no_new_privs: %w", err)
		}
	}
	if spec.Seccomp != nil {
		if err := seccomp.InstallThread(spec.Seccomp); err != nil {
			return "", err
		}
	}
	if stage != final {
		if err := applyCaps(finalCaps, final); err != nil {
			return "", err
		}
	}
	return path, nil
}

// Apply gives the calling thread, still root, the capabilities of an app
// running as uid: bounding set limited to set, ambient set cleared, the
// thread's uid switched to uid (gid and groups are the caller's, before),
// then effective = permitted = set for uid 0 and nothing otherwise, with an
// empty inheritable set. The caller must have locked the goroutine to its
// thread and exec from it; PrepareAndExec is the whole sequence.
func Apply(set Set, uid int) error {
	if err := DropBounding(set); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clearing ambient capabilities: %w", err)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
		return fmt.Errorf("setting uid %d: %w", uid, e)
	}
	if uid != 0 {
		set = 0
	}
	return capset(set)
}

// DropBounding removes every capability not in keep from the calling
// thread's bounding set (needs CAP_SETPCAP). Not moby/sys/capability's
// Apply(BOUNDS): that drops nothing, and returns no error, when the
// thread lacks CAP_SETPCAP, where an app must not start.
func DropBounding(keep Set) error {
	last, err := LastCap()
	if err != nil {
		return err
	}
	for c := 0; c <= last; c++ {
		if keep.Has(c) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("dropping %s from the bounding set: %w", Of(c), err)
		}
	}
	return nil
}

// setIDs switches the calling thread (only) to the app's groups, gid and
// uid: Go's syscall.Setuid would change every thread, which is not needed
// before an execve from this one.
func setIDs(uid, gid int, groups []int) error {
	gs := make([]uint32, len(groups))
	for i, g := range groups {
		gs[i] = uint32(g)
	}
	var p unsafe.Pointer
	if len(gs) > 0 {
		p = unsafe.Pointer(&gs[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gs)), uintptr(p), 0); e != 0 {
		return fmt.Errorf("setting supplementary groups %v: %w", groups, e)
	}
	runtime.KeepAlive(gs)
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); e != 0 {
		return fmt.Errorf("setting gid %d: %w", gid, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
		return fmt.Errorf("setting uid %d: %w", uid, e)
	}
	return nil
}

// capState is the calling thread's effective and permitted sets as
// moby/sys/capability applies them, with an empty inheritable set. It is
// built before a seccomp filter goes in, so that applying it under the
// filter is one capset(2) and nothing else (no allocation).
func capState(set Set) (capability.Capabilities, error) {
	c, err := capability.NewPid2(0)
	if err != nil {
		return nil, fmt.Errorf("setting capabilities %s: %w", set, err)
	}
	c.Clear(capability.CAPS)
	for n := range 64 {
		if set.Has(n) {
			c.Set(capability.EFFECTIVE|capability.PERMITTED, capability.Cap(n))
		}
	}
	return c, nil
}

// applyCaps sets the calling thread's capabilities to c.
func applyCaps(c capability.Capabilities, set Set) error {
	if err := c.Apply(capability.CAPS); err != nil {
		return fmt.Errorf("setting capabilities %s: %w", set, err)
	}
	return nil
}

// capset sets the calling thread's effective and permitted sets to set,
// the inheritable set empty.
func capset(set Set) error {
	c, err := capState(set)
	if err != nil {
		return err
	}
	return applyCaps(c, set)
}

// lookPath finds name: as is when it has a slash, else in env's PATH.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if err := executable(name); err != nil {
			return "", err
		}
		return name, nil
	}
	path := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %q in PATH %q", ErrNotExecutable, name, path)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotExecutable, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%w: %q is not an executable file", ErrNotExecutable, p)
	}
	return nil
}

// Unavailable returns the part of set the calling thread's bounding set
// lacks (the runtime itself runs without it, so no app can have it): the
// part of an isolator that cannot be applied, for the caller to report.
func Unavailable(set Set) (Set, error) {
	last, err := LastCap()
	if err != nil {
		return 0, err
	}
	var out Set
	for c := 0; c < 64; c++ {
		if !set.Has(c) {
			continue
		}
		if c > last {
			out |= Of(c)
			continue
		}
		in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
		if err != nil {
			return 0, fmt.Errorf("reading the bounding set: %w", err)
		}
		if in == 0 {
			out |= Of(c)
		}
	}
	return out, nil
}
