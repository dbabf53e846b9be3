package seccomp

import (
	"sort"
	"strings"
	"sync"

	"github.com/rkt/rkt/common/isospec"
)

// Capability numbers (linux/capability.h) that gate syscalls in the
// baseline, as systemd-nspawn gates them on the container's capabilities.
const (
	capSysModule    = 16
	capSysRawio     = 17
	capSysPtrace    = 19
	capSysPacct     = 20
	capSysAdmin     = 21
	capSysBoot      = 22
	capSysTime      = 25
	capSysTTYConfig = 26
	capIPCLock      = 14
	capSyslog       = 34
)

// systemdGroups are systemd's syscall groups (seccomp-util.c, v252), named
// here without the "@"; in sets they are written "@systemd/<name>".
var systemdGroups = sync.OnceValue(func() map[string][]string {
	return map[string][]string{
		"default": {
			"arch_prctl", "brk", "cacheflush", "clock_getres", "clock_getres_time64", "clock_gettime",
			"clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "execve", "exit", "exit_group",
			"futex", "futex_time64", "futex_waitv", "get_robust_list", "get_thread_area", "getegid",
			"getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
			"getpgid", "getpgrp", "getpid", "getppid", "getrandom", "getresgid", "getresgid32",
			"getresuid", "getresuid32", "getrlimit", "getsid", "gettid", "gettimeofday", "getuid",
			"getuid32", "membarrier", "mmap", "mmap2", "mprotect", "munmap", "nanosleep", "pause",
			"prlimit64", "restart_syscall", "riscv_flush_icache", "rseq", "rt_sigreturn",
			"sched_getaffinity", "sched_yield", "set_robust_list", "set_thread_area", "set_tid_address",
			"set_tls", "sigreturn", "time", "ugetrlimit", "uname",
		},
		"aio": {
			"io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_setup", "io_submit",
			"io_uring_enter", "io_uring_register", "io_uring_setup",
		},
		"basic-io": {
			"_llseek", "close", "close_range", "dup", "dup2", "dup3", "lseek", "pread64", "preadv",
			"preadv2", "pwrite64", "pwritev", "pwritev2", "read", "readv", "write", "writev",
		},
		"chown": {
			"chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32",
		},
		"clock": {
			"adjtimex", "clock_adjtime", "clock_adjtime64", "clock_settime", "clock_settime64",
			"settimeofday", "stime",
		},
		"file-system": {
			"access", "chdir", "chmod", "close", "creat", "faccessat", "faccessat2", "fallocate",
			"fchdir", "fchmod", "fchmodat", "fchmodat2", "fcntl", "fcntl64", "fgetxattr", "flistxattr",
			"fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64",
			"ftruncate", "ftruncate64", "futimesat", "getcwd", "getdents", "getdents64", "getxattr",
			"inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "lgetxattr", "link",
			"linkat", "listxattr", "llistxattr", "lremovexattr", "lsetxattr", "lstat", "lstat64", "mkdir",
			"mkdirat", "mknod", "mknodat", "newfstatat", "oldfstat", "oldlstat", "oldstat", "open",
			"openat", "openat2", "readlink", "readlinkat", "removexattr", "rename", "renameat",
			"renameat2", "rmdir", "setxattr", "stat", "stat64", "statfs", "statfs64", "statx", "symlink",
			"symlinkat", "truncate", "truncate64", "unlink", "unlinkat", "utime", "utimensat",
			"utimensat_time64", "utimes",
		},
		"io-event": {
			"_newselect", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
			"epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "poll", "ppoll",
			"ppoll_time64", "pselect6", "pselect6_time64", "select",
		},
		"ipc": {
			"ipc", "memfd_create", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
			"mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "msgctl",
			"msgget", "msgrcv", "msgsnd", "pipe", "pipe2", "semctl", "semget", "semop", "semtimedop",
			"semtimedop_time64", "shmat", "shmctl", "shmdt", "shmget",
		},
		"keyring": {"add_key", "keyctl", "request_key"},
		"memlock": {"mlock", "mlock2", "mlockall", "munlock", "munlockall"},
		"module":  {"delete_module", "finit_module", "init_module"},
		"mount": {
			"chroot", "fsconfig", "fsmount", "fsopen", "fspick", "mount", "mount_setattr", "move_mount",
			"open_tree", "pivot_root", "umount", "umount2",
		},
		"network-io": {
			"accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt", "listen",
			"recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "send", "sendmmsg", "sendmsg",
			"sendto", "setsockopt", "shutdown", "socket", "socketcall", "socketpair",
		},
		"obsolete": {
			"_sysctl", "afs_syscall", "bdflush", "create_module", "get_kernel_syms", "getpmsg", "putpmsg",
			"query_module", "security", "sysfs", "tuxcall", "uselib", "ustat", "vserver",
		},
		"privileged": {
			"_sysctl", "acct", "bpf", "capset", "chroot", "fanotify_init", "fanotify_mark", "nfsservctl",
			"open_by_handle_at", "pivot_root", "quotactl", "reboot", "setdomainname", "setfsuid",
			"setfsuid32", "setgroups", "setgroups32", "sethostname", "setresuid", "setresuid32", "setreuid",
			"setreuid32", "setuid", "setuid32", "swapoff", "swapon",
		},
		"process": {
			"capget", "clone", "clone3", "execveat", "fork", "getrusage", "kill", "pidfd_open",
			"pidfd_send_signal", "prctl", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "setns",
			"swapcontext", "tgkill", "times", "tkill", "unshare", "vfork", "wait4", "waitid", "waitpid",
		},
		"raw-io": {
			"ioperm", "iopl", "pciconfig_iobase", "pciconfig_read", "pciconfig_write",
			"s390_pci_mmio_read", "s390_pci_mmio_write",
		},
		"reboot": {"kexec_file_load", "kexec_load", "reboot"},
		"resources": {
			"ioprio_set", "mbind", "migrate_pages", "move_pages", "nice", "sched_setaffinity",
			"sched_setattr", "sched_setparam", "sched_setscheduler", "set_mempolicy",
			"set_mempolicy_home_node", "setpriority", "setrlimit",
		},
		"setuid": {
			"setgid", "setgid32", "setgroups", "setgroups32", "setregid", "setregid32", "setresgid",
			"setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setuid", "setuid32",
		},
		"signal": {
			"rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigsuspend", "rt_sigtimedwait",
			"rt_sigtimedwait_time64", "sigaction", "sigaltstack", "signal", "signalfd", "signalfd4",
			"sigpending", "sigprocmask", "sigsuspend",
		},
		"swap": {"swapoff", "swapon"},
		"sync": {
			"fdatasync", "fsync", "msync", "sync", "sync_file_range", "sync_file_range2", "syncfs",
		},
		"timer": {
			"alarm", "getitimer", "setitimer", "timer_create", "timer_delete", "timer_getoverrun",
			"timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create",
			"timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
		},
	}
})

// baselineGroups are the groups systemd-nspawn allows in every container.
// @mount is not among them: nspawn allows it, the baseline gates it on
// CAP_SYS_ADMIN (without that capability mount(2) fails with EPERM anyway).
var baselineGroups = []string{
	"aio", "basic-io", "chown", "default", "file-system", "io-event", "ipc", "network-io",
	"process", "resources", "setuid", "signal", "sync", "timer",
}

// baselineExtra are the single syscalls systemd-nspawn allows on top of its
// groups. nspawn also allows userfaultfd; the baseline does not.
var baselineExtra = []string{
	"brk", "capget", "capset", "copy_file_range", "fadvise64", "fadvise64_64", "flock",
	"get_mempolicy", "getcpu", "getpriority", "ioctl", "ioprio_get", "kcmp", "madvise", "mremap",
	"name_to_handle_at", "oldolduname", "olduname", "personality", "readahead", "readdir",
	"remap_file_pages", "sched_get_priority_max", "sched_get_priority_min", "sched_getattr",
	"sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
	"sched_rr_get_interval_time64", "sched_yield", "seccomp", "sendfile", "sendfile64",
	"setdomainname", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "sethostname", "setpgid",
	"setsid", "splice", "sysinfo", "tee", "umask", "uname", "vmsplice",
}

// baselineByCap are allowed only when the app keeps the capability, as
// systemd-nspawn allows them only when the container has it.
var baselineByCap = sync.OnceValue(func() []capSyscalls {
	g := systemdGroups()
	return []capSyscalls{
		{capSysTime, g["clock"]},
		{capSysModule, g["module"]},
		{capSysRawio, g["raw-io"]},
		{capIPCLock, g["memlock"]},
		{capSysAdmin, g["mount"]},
		{capSysPacct, []string{"acct"}},
		{capSysPtrace, []string{"process_vm_readv", "process_vm_writev", "ptrace"}},
		{capSysBoot, []string{"reboot"}},
		{capSyslog, []string{"syslog"}},
		{capSysTTYConfig, []string{"vhangup"}},
	}
})

// capSyscalls are syscalls allowed only with capability cap.
type capSyscalls struct {
	cap   uint
	names []string
}

// rktDefaultBlacklist is rkt's @rkt/default-blacklist: what the default
// profile removes from the baseline when an app has no seccomp isolator.
var rktDefaultBlacklist = []string{
	"_sysctl", "acct", "add_key", "adjtimex", "bpf", "clock_adjtime", "clock_settime",
	"create_module", "delete_module", "finit_module", "get_kernel_syms", "get_mempolicy",
	"init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl",
	"lookup_dcookie", "mbind", "mount", "move_pages", "name_to_handle_at", "nfsservctl",
	"open_by_handle_at", "perf_event_open", "personality", "pivot_root", "process_vm_readv",
	"process_vm_writev", "ptrace", "query_module", "quotactl", "reboot", "request_key",
	"set_mempolicy", "setns", "settimeofday", "stime", "swapoff", "swapon", "sysfs", "syslog",
	"umount", "umount2", "unshare", "uselib", "userfaultfd", "ustat", "vm86", "vm86old",
}

// lifecycle are allowed whatever a retain set says, as systemd allows them
// implicitly in SystemCallFilter= allow-lists: an app cannot start or end
// without them. capset is among them because the runtime lowers the app's
// capabilities after the filter is in place (see the caps package).
var lifecycle = []string{
	"capset", "clock_getres", "clock_gettime", "clock_nanosleep", "execve", "exit", "exit_group",
	"getrlimit", "gettimeofday", "nanosleep", "rt_sigreturn", "sigreturn", "time",
}

// Group names of this implementation, usable in sets (isospec's grammar).
const (
	GroupAll             = isospec.GroupAll
	GroupEmpty           = isospec.GroupEmpty
	GroupRktWhitelist    = isospec.GroupRktWhitelist
	GroupRktBlacklist    = isospec.GroupRktBlacklist
	GroupDockerWhitelist = isospec.GroupDockerWhitelist
	GroupDockerBlacklist = isospec.GroupDockerBlacklist
	systemdPrefix        = isospec.SystemdGroupPrefix
)

// expandGroup returns the syscalls of a named group; ok is false for an
// unknown group. GroupAll and GroupEmpty are handled by the caller.
func expandGroup(g string) ([]string, bool) {
	switch g {
	case GroupRktBlacklist, GroupDockerBlacklist:
		return rktDefaultBlacklist, true
	case GroupRktWhitelist, GroupDockerWhitelist:
		return defaultAllowNames(), true
	}
	if name, ok := strings.CutPrefix(g, systemdPrefix); ok {
		s, ok := systemdGroups()[name]
		return s, ok
	}
	return nil, false
}

// baselineNames returns the syscalls the baseline allows for an app keeping
// the capabilities in caps (bit n = capability n).
func baselineNames(caps uint64) map[string]bool {
	m := make(map[string]bool, 400)
	for _, g := range baselineGroups {
		for _, n := range systemdGroups()[g] {
			m[n] = true
		}
	}
	for _, n := range baselineExtra {
		m[n] = true
	}
	for _, c := range baselineByCap() {
		if caps&(1<<c.cap) != 0 {
			for _, n := range c.names {
				m[n] = true
			}
		}
	}
	return m
}

// defaultNames is the default profile's allow-list for an app keeping caps:
// the baseline minus rkt's default blacklist, except that a syscall the
// baseline gates on a capability the app keeps stays allowed (an app given
// CAP_SYS_TIME may set the clock).
func defaultNames(caps uint64) map[string]bool {
	m := baselineNames(caps)
	for n := range defaultDenied(caps) {
		delete(m, n)
	}
	return m
}

// defaultDenied is what the default profile takes from the baseline of an
// app keeping caps: rkt's default blacklist less the syscalls gated on a
// capability the app keeps.
func defaultDenied(caps uint64) map[string]bool {
	gated := make(map[string]bool)
	for _, c := range baselineByCap() {
		if caps&(1<<c.cap) != 0 {
			for _, n := range c.names {
				gated[n] = true
			}
		}
	}
	denied := make(map[string]bool, len(rktDefaultBlacklist))
	for _, n := range rktDefaultBlacklist {
		if !gated[n] {
			denied[n] = true
		}
	}
	return denied
}

// defaultAllowNames is the default profile's allow-list for an app with no
// capability gating extra syscalls.
func defaultAllowNames() []string {
	m := defaultNames(0)
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
