package seccomp

import (
	"fmt"
	"runtime"
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

// syscallEntry is one row of a generated syscall table (zsyscalls.go).
type syscallEntry struct {
	name string
	nr   int
}

// arch describes one architecture the compiler emits filters for.
type arch struct {
	name      string // GOARCH
	audit     uint32 // AUDIT_ARCH_* seen in seccomp_data.arch
	table     []syscallEntry
	x32       bool // the x32 ABI shares the audit arch: numbers with bit 30 set are x32
	maxNr     int  // highest number in table
	byNumber  map[int]string
	tableName string
}

// x32Bit marks x32 syscall numbers on x86-64 (__X32_SYSCALL_BIT).
const x32Bit = 0x40000000

// firstUnifiedNr is pidfd_send_signal, the first syscall (Linux 5.1) that has
// the same number on every architecture. Syscalls from there on are the ones
// a libc probes for and falls back from on ENOSYS (clone3, faccessat2,
// close_range, ...).
const firstUnifiedNr = 424

// arches are built on first use: every binary that validates an isolator
// links this package, and most never compile a filter.
var arches = sync.OnceValue(func() map[string]*arch {
	return map[string]*arch{
		"amd64": newArch("amd64", unix.AUDIT_ARCH_X86_64, syscallsAMD64, true),
		"arm64": newArch("arm64", unix.AUDIT_ARCH_AARCH64, syscallsARM64, false),
	}
})

func newArch(name string, audit uint32, table []syscallEntry, x32 bool) *arch {
	a := &arch{name: name, audit: audit, table: table, x32: x32, byNumber: make(map[int]string, len(table))}
	for _, e := range table {
		if e.nr > a.maxNr {
			a.maxNr = e.nr
		}
		a.byNumber[e.nr] = e.name
	}
	return a
}

func lookupArch(goarch string) (*arch, error) {
	if goarch == "" {
		goarch = runtime.GOARCH
	}
	a, ok := arches()[goarch]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedArch, goarch)
	}
	return a, nil
}

// number returns the syscall number of name, and false when the
// architecture has no such syscall (e.g. "open" on arm64).
func (a *arch) number(name string) (int, bool) {
	i := sort.Search(len(a.table), func(i int) bool { return a.table[i].name >= name })
	if i < len(a.table) && a.table[i].name == name {
		return a.table[i].nr, true
	}
	return 0, false
}

// knownAnywhere reports whether name is a syscall on any supported
// architecture: such names are accepted in sets for portability (a set may
// name "open" and still compile on arm64).
func knownAnywhere(name string) bool {
	for _, a := range arches() {
		if _, ok := a.number(name); ok {
			return true
		}
	}
	return knownElsewhere()[name]
}

// knownElsewhere are syscalls of architectures the compiler does not emit
// filters for, named by the groups below; they are accepted and ignored.
var knownElsewhere = sync.OnceValue(func() map[string]bool {
	return setOf(
		"_llseek", "_newselect", "cacheflush", "chown32", "clock_adjtime64", "clock_getres_time64",
		"clock_gettime64", "clock_nanosleep_time64", "clock_settime64", "fadvise64_64", "fchown32",
		"fcntl64", "fstat64", "fstatat64", "fstatfs64", "ftruncate64", "futex_time64", "getegid32",
		"geteuid32", "getgid32", "getgroups32", "getresgid32", "getresuid32", "getuid32", "ipc",
		"lchown32", "lstat64", "mmap2", "mq_timedreceive_time64", "mq_timedsend_time64", "nice",
		"oldfstat", "oldlstat", "oldolduname", "olduname", "oldstat", "ppoll_time64", "pselect6_time64",
		"readdir", "recv", "recvmmsg_time64", "riscv_flush_icache", "rt_sigtimedwait_time64",
		"sched_rr_get_interval_time64", "semtimedop_time64", "send", "sendfile64", "set_tls",
		"setfsgid32", "setfsuid32", "setgid32", "setgroups32", "setregid32", "setresgid32",
		"setresuid32", "setreuid32", "setuid32", "sigaction", "signal", "sigpending", "sigprocmask",
		"sigreturn", "sigsuspend", "socketcall", "stat64", "statfs64", "stime", "swapcontext",
		"sync_file_range2", "timer_gettime64", "timer_settime64", "timerfd_gettime64",
		"timerfd_settime64", "truncate64", "ugetrlimit", "umount", "utimensat_time64", "waitpid",
		"vm86", "vm86old", "ioperm", "iopl", "pciconfig_iobase", "pciconfig_read", "pciconfig_write",
		"s390_pci_mmio_read", "s390_pci_mmio_write", "epoll_ctl_old", "epoll_wait_old",
		"create_module", "get_kernel_syms", "query_module", "uselib", "ustat", "sysfs", "nfsservctl",
		"bdflush", "set_thread_area", "get_thread_area", "arch_prctl", "time", "alarm", "pause",
		"select", "poll", "epoll_create", "epoll_wait", "eventfd", "inotify_init", "signalfd",
		"getpgrp", "fork", "vfork", "access", "chmod", "chown", "creat", "dup2", "futimesat",
		"getdents", "lchown", "link", "lstat", "mkdir", "mknod", "open", "pipe", "readlink", "rename",
		"rmdir", "stat", "symlink", "unlink", "utime", "utimes", "_sysctl", "lookup_dcookie",
		"remap_file_pages", "kexec_file_load", "afs_syscall", "getpmsg", "putpmsg", "security",
		"tuxcall", "vserver", "modify_ldt",
	)
})

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func defaultArch() string { return runtime.GOARCH }
