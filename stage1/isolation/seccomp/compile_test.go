package seccomp

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// run interprets a compiled program the way the kernel's classic BPF
// interpreter does, for the instructions the compiler emits.
func run(t *testing.T, prog []unix.SockFilter, auditArch, nr uint32) uint32 {
	t.Helper()
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			switch in.K {
			case offNr:
				acc = nr
			case offArch:
				acc = auditArch
			default:
				t.Fatalf("pc %d: load of offset %d", pc, in.K)
			}
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			if acc == in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			if acc >= in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("pc %d: unexpected opcode %#x", pc, in.Code)
		}
	}
	t.Fatalf("program ran off its end")
	return 0
}

func nrOf(t *testing.T, goarch, name string) uint32 {
	t.Helper()
	a, err := lookupArch(goarch)
	if err != nil {
		t.Fatal(err)
	}
	nr, ok := a.number(name)
	if !ok {
		t.Fatalf("%s has no syscall %q", goarch, name)
	}
	return uint32(nr)
}

var (
	allow  = uint32(retAllow)
	kill   = uint32(retKillProcess)
	eperm  = retErrnoOf(int(unix.EPERM))
	enosys = retErrnoOf(int(unix.ENOSYS))
)

func actName(a uint32) string {
	switch {
	case a == allow:
		return "allow"
	case a == kill:
		return "kill"
	case a&unix.SECCOMP_RET_ACTION_FULL == retErrno:
		return "errno " + unix.ErrnoName(unix.Errno(a&unix.SECCOMP_RET_DATA))
	}
	return fmt.Sprintf("%#x", a)
}

// The search tree must give every number exactly the action the profile
// computes for it, for all profiles and both architectures.
func TestProgramMatchesActions(t *testing.T) {
	profiles := []Profile{
		{Mode: ModeDefault},
		{Mode: ModeDefault, Caps: ^uint64(0)},
		{Mode: ModeRetain, Syscalls: []string{"read", "write", "exit_group"}},
		{Mode: ModeRetain, Syscalls: []string{"@rkt/default-whitelist"}, Errno: "ENOTSUP"},
		{Mode: ModeRetain, Syscalls: []string{GroupAll}},
		{Mode: ModeRemove, Syscalls: []string{"keyctl", "chmod", "@systemd/network-io"}, Errno: "EACCES"},
		{Mode: ModeRemove, Syscalls: []string{GroupEmpty}},
	}
	for _, goarch := range []string{"amd64", "arm64"} {
		a, _ := lookupArch(goarch)
		for _, p := range profiles {
			p.Arch = goarch
			t.Run(fmt.Sprintf("%s/%s/%v", goarch, p.Mode, p.Syscalls), func(t *testing.T) {
				prog, err := Compile(p)
				if err != nil {
					t.Fatal(err)
				}
				acts, err := actions(p, a)
				if err != nil {
					t.Fatal(err)
				}
				for nr, want := range acts {
					if got := run(t, prog, a.audit, uint32(nr)); got != want {
						t.Fatalf("syscall %d (%s): program says %s, profile %s", nr, a.byNumber[nr], actName(got), actName(want))
					}
				}
				for _, nr := range []uint32{uint32(len(acts)), 1000, x32Bit - 1, x32Bit, x32Bit | 1, ^uint32(0)} {
					if got := run(t, prog, a.audit, nr); got != enosys {
						t.Errorf("syscall %#x: %s, want ENOSYS", nr, actName(got))
					}
				}
				if a.x32 {
					if got := run(t, prog, a.audit, x32Bit|nrOf(t, goarch, "read")); got != enosys {
						t.Errorf("x32 read: %s, want ENOSYS", actName(got))
					}
				}
				if got := run(t, prog, unix.AUDIT_ARCH_I386, 0); got != enosys {
					t.Errorf("foreign arch: %s, want ENOSYS", actName(got))
				}
				t.Logf("%d instructions", len(prog))
			})
		}
	}
}

// The far-jump form (a left subtree longer than 255 instructions) must be
// right too: alternate actions on every number so the tree is as big as it
// gets.
func TestSearchFarJumps(t *testing.T) {
	var spans []span
	for i := 0; i < 600; i++ {
		spans = append(spans, span{uint32(i), uint32(i % 2 * 7)})
	}
	prog := append([]unix.SockFilter{stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr)}, search(spans)...)
	far := false
	for _, in := range prog {
		far = far || in.Code == unix.BPF_JMP|unix.BPF_JA
	}
	if !far {
		t.Fatal("no far jump emitted for 600 spans")
	}
	for nr := uint32(0); nr < 700; nr++ {
		want := spans[min(nr, 599)].act
		if got := run(t, prog, 0, nr); got != want {
			t.Fatalf("nr %d: %d, want %d", nr, got, want)
		}
	}
}

func actionOf(t *testing.T, p Profile, name string) uint32 {
	t.Helper()
	prog, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := lookupArch(p.Arch)
	return run(t, prog, a.audit, nrOf(t, a.name, name))
}

// What systemd-nspawn denies by default, and what rkt's default blacklist
// adds, is denied by the default profile; what every app needs is allowed.
func TestDefaultProfile(t *testing.T) {
	p := Profile{Mode: ModeDefault, Arch: "amd64"}
	denied := []string{
		"kexec_load", "kexec_file_load", "open_by_handle_at", "init_module", "finit_module",
		"delete_module", "swapon", "swapoff", "reboot", "keyctl", "add_key", "request_key", "bpf",
		"perf_event_open", "iopl", "ioperm", "acct", "settimeofday", "clock_settime", "adjtimex",
		"clock_adjtime", "syslog", "lookup_dcookie", "quotactl", "userfaultfd", "nfsservctl",
		"mount", "umount2", "pivot_root", "ptrace", "process_vm_readv", "unshare", "setns",
		"personality", "mlock", "fanotify_init", "name_to_handle_at", "vhangup", "uselib", "_sysctl",
		"mbind", "move_pages", "kcmp", "ustat", "sysfs", "create_module",
	}
	for _, n := range denied {
		if got := actionOf(t, p, n); got != eperm {
			t.Errorf("%s: %s, want EPERM", n, actName(got))
		}
	}
	for _, n := range []string{"pidfd_getfd", "landlock_create_ruleset", "memfd_secret", "fsopen", "open_tree", "mount_setattr"} {
		if got := actionOf(t, p, n); got != enosys {
			t.Errorf("%s: %s, want ENOSYS", n, actName(got))
		}
	}
	allowed := []string{
		"read", "write", "openat", "close", "mmap", "execve", "clone", "clone3", "fork", "wait4",
		"socket", "connect", "bind", "accept4", "futex", "rt_sigaction", "exit_group", "getdents64",
		"statx", "faccessat2", "close_range", "epoll_pwait2", "io_uring_setup", "setuid", "capset",
		"chown", "ioctl", "prctl", "seccomp", "sethostname", "rseq", "pidfd_open", "memfd_create",
	}
	for _, n := range allowed {
		if got := actionOf(t, p, n); got != allow {
			t.Errorf("%s: %s, want allow", n, actName(got))
		}
	}
}

// Keeping a capability opens the syscalls nspawn gates on it, in the
// default profile too.
func TestCapabilityGates(t *testing.T) {
	for _, c := range []struct {
		cap  uint
		name string
	}{{capSysTime, "settimeofday"}, {capSysAdmin, "mount"}, {capSysPtrace, "ptrace"}, {capIPCLock, "mlock"}, {capSysBoot, "reboot"}} {
		without := actionOf(t, Profile{Arch: "amd64"}, c.name)
		with := actionOf(t, Profile{Arch: "amd64", Caps: 1 << c.cap}, c.name)
		if without != eperm || with != allow {
			t.Errorf("%s: %s without capability %d, %s with it", c.name, actName(without), c.cap, actName(with))
		}
	}
	// Never, whatever the capabilities.
	for _, n := range []string{"kexec_load", "bpf", "keyctl", "open_by_handle_at", "swapon"} {
		if got := actionOf(t, Profile{Arch: "amd64", Caps: ^uint64(0)}, n); got != eperm {
			t.Errorf("%s with all capabilities: %s", n, actName(got))
		}
	}
}

func TestRetainAndRemove(t *testing.T) {
	retain := Profile{Mode: ModeRetain, Arch: "amd64", Syscalls: []string{"read", "write", "keyctl"}}
	cases := []struct {
		p    Profile
		name string
		want uint32
	}{
		{retain, "read", allow},
		{retain, "execve", allow}, // life-cycle
		{retain, "exit_group", allow},
		{retain, "openat", kill},   // not retained, no errno: killed as in rkt
		{retain, "clone3", enosys}, // not retained, new: libc falls back
		{retain, "keyctl", eperm},  // retained but the baseline denies it
		{Profile{Mode: ModeRetain, Arch: "amd64", Syscalls: []string{"read"}, Errno: "ENOTSUP"}, "openat", retErrnoOf(int(unix.ENOTSUP))},
		{Profile{Mode: ModeRetain, Arch: "amd64", Syscalls: []string{GroupAll}}, "keyctl", eperm},
		{Profile{Mode: ModeRetain, Arch: "amd64", Syscalls: []string{GroupAll}}, "unshare", allow},
		{Profile{Mode: ModeRemove, Arch: "amd64", Syscalls: []string{"chmod", "fchmodat"}, Errno: "EACCES"}, "fchmodat", retErrnoOf(int(unix.EACCES))},
		{Profile{Mode: ModeRemove, Arch: "amd64", Syscalls: []string{"chmod"}}, "chmod", kill},
		{Profile{Mode: ModeRemove, Arch: "amd64", Syscalls: []string{"chmod"}}, "openat", allow},
		{Profile{Mode: ModeRemove, Arch: "amd64", Syscalls: []string{"chmod"}}, "keyctl", eperm},
		{Profile{Mode: ModeRemove, Arch: "amd64", Syscalls: []string{"execve", "capset"}, Errno: "EPERM"}, "execve", allow},
		{Profile{Mode: ModeRemove, Arch: "amd64", Syscalls: []string{"@systemd/network-io"}, Errno: "EPERM"}, "socket", eperm},
		{Profile{Mode: ModeRemove, Arch: "amd64", Syscalls: []string{GroupEmpty}}, "unshare", allow},
		{Profile{Mode: ModeRemove, Arch: "arm64", Syscalls: []string{"open", "openat"}, Errno: "EROFS"}, "openat", retErrnoOf(int(unix.EROFS))},
	}
	for _, c := range cases {
		if got := actionOf(t, c.p, c.name); got != c.want {
			t.Errorf("%s %v errno %q: %s: %s, want %s", c.p.Mode, c.p.Syscalls, c.p.Errno, c.name, actName(got), actName(c.want))
		}
	}
}

func TestParseFlag(t *testing.T) {
	p, err := ParseFlag("mode=retain,errno=ENOSYS,read,write,@systemd/file-system")
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != ModeRetain || p.Errno != "ENOSYS" || !slices.Equal(p.Syscalls, []string{"read", "write", "@systemd/file-system"}) {
		t.Errorf("got %+v", p)
	}
	p, err = ParseFlag("mode=remove,keyctl")
	if err != nil || p.Mode != ModeRemove || p.Errno != "" {
		t.Errorf("got %+v, %v", p, err)
	}
	for _, bad := range []struct {
		s    string
		want error
	}{
		{"read,write", ErrBadProfile},
		{"mode=keep,read", ErrBadProfile},
		{"mode=retain", ErrBadProfile},
		{"mode=retain,errno=EWHAT,read", ErrBadErrno},
		{"mode=retain,frobnicate", ErrUnknownSyscall},
		{"mode=retain,@systemd/nope", ErrUnknownGroup},
		{"mode=remove,@appc.io/all", ErrBadProfile},
	} {
		if _, err := ParseFlag(bad.s); !errors.Is(err, bad.want) {
			t.Errorf("ParseFlag(%q) = %v, want %v", bad.s, err, bad.want)
		}
	}
}

func TestErrnoNumber(t *testing.T) {
	for name, want := range map[string]unix.Errno{"EPERM": unix.EPERM, "ENOSYS": unix.ENOSYS, "ENOTSUP": unix.ENOTSUP, "EOPNOTSUPP": unix.EOPNOTSUPP, "EACCES": unix.EACCES, "13": unix.EACCES} {
		if n, err := ErrnoNumber(name); err != nil || unix.Errno(n) != want {
			t.Errorf("%s: %d, %v", name, n, err)
		}
	}
	for _, bad := range []string{"", "0", "4096", "eperm", "EFOO"} {
		if _, err := ErrnoNumber(bad); !errors.Is(err, ErrBadErrno) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestKey(t *testing.T) {
	a := Profile{Mode: ModeRetain, Syscalls: []string{"read", "write", "read"}, Arch: "amd64"}
	b := Profile{Mode: ModeRetain, Syscalls: []string{"write", "read"}, Arch: "amd64"}
	if a.Key() != b.Key() {
		t.Error("order and duplicates change the key")
	}
	for _, c := range []Profile{
		{Mode: ModeRemove, Syscalls: b.Syscalls, Arch: "amd64"},
		{Mode: ModeRetain, Syscalls: b.Syscalls, Arch: "arm64"},
		{Mode: ModeRetain, Syscalls: b.Syscalls, Arch: "amd64", Errno: "EPERM"},
		{Mode: ModeRetain, Syscalls: b.Syscalls, Arch: "amd64", Caps: 1},
	} {
		if c.Key() == a.Key() {
			t.Errorf("%+v has the key of %+v", c, a)
		}
	}
}

func TestCompileTime(t *testing.T) {
	p := Profile{Mode: ModeDefault}
	start := time.Now()
	const n = 20
	for i := 0; i < n; i++ {
		if _, err := Compile(p); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("compiling the default profile: %v each", time.Since(start)/n)
}

func TestUnsupportedArch(t *testing.T) {
	if _, err := Compile(Profile{Arch: "mips"}); !errors.Is(err, ErrUnsupportedArch) {
		t.Errorf("got %v", err)
	}
}

func TestBaselineDenied(t *testing.T) {
	got, err := BaselineDenied(Profile{Mode: ModeRetain, Arch: "amd64", Syscalls: []string{"read", "keyctl", "settimeofday", "bpf", "open"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"bpf", "keyctl", "settimeofday"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	got, _ = BaselineDenied(Profile{Mode: ModeRetain, Arch: "amd64", Syscalls: []string{"settimeofday"}, Caps: 1 << capSysTime})
	if len(got) != 0 {
		t.Errorf("with CAP_SYS_TIME: %v", got)
	}
	// arm64 has no open(2): not reported, it does not exist there.
	got, _ = BaselineDenied(Profile{Mode: ModeRetain, Arch: "arm64", Syscalls: []string{"open", "keyctl"}})
	if !slices.Equal(got, []string{"keyctl"}) {
		t.Errorf("arm64: %v", got)
	}
}

// CompileAllowed gives what Compile and Allowed give one by one, and the
// default profile allows exactly the baseline less rkt's blacklist.
func TestCompileAllowed(t *testing.T) {
	for _, p := range []Profile{
		{Mode: ModeDefault, Arch: "amd64"},
		{Mode: ModeDefault, Arch: "arm64", Caps: 1 << capSysTime},
		{Mode: ModeRetain, Arch: "amd64", Syscalls: []string{"read", "write", "keyctl"}},
		{Mode: ModeRemove, Arch: "amd64", Syscalls: []string{"chmod"}, Errno: "EACCES"},
	} {
		prog, allowed, err := CompileAllowed(p)
		if err != nil {
			t.Fatal(err)
		}
		wantProg, err := Compile(p)
		if err != nil {
			t.Fatal(err)
		}
		wantAllowed, err := Allowed(p)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(prog, wantProg) || !slices.Equal(allowed, wantAllowed) {
			t.Errorf("%s %v: CompileAllowed differs from Compile and Allowed", p.Mode, p.Syscalls)
		}
	}
	allowed, err := Allowed(Profile{Mode: ModeDefault, Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	onAMD64 := map[string]bool{}
	for _, n := range arches()["amd64"].byNumber {
		onAMD64[n] = true
	}
	var want []string
	for _, n := range defaultAllowNames() {
		if onAMD64[n] {
			want = append(want, n)
		}
	}
	if !slices.Equal(allowed, want) {
		t.Errorf("the default profile allows %d syscalls, the baseline less the blacklist %d", len(allowed), len(want))
	}
	if _, _, err := CompileAllowed(Profile{Mode: ModeRetain, Arch: "amd64", Syscalls: []string{"nosuchcall"}}); err == nil {
		t.Error("a profile naming an unknown syscall compiled")
	}
}
