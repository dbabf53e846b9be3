//go:build libseccomp && cgo

package seccomp

import (
	"encoding/binary"
	"fmt"
	"sort"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/stage1/isolation/seccomp/libseccomp"
)

// TestAgainstLibseccomp is the differential test of the compiler: for
// every profile form, libseccomp builds a filter from the same per-name
// verdicts (each name placed at libseccomp's own number for it), and both
// programs, run in a BPF interpreter, must give the same action for every
// syscall number of an x86-64 caller, of an x32 caller and of an i386
// caller. It checks the number tables, the architecture and x32 checks,
// the ENOSYS for numbers the table does not know, and the binary search.
//
// Run it with: go test -tags libseccomp ./stage1/isolation/seccomp/
// (cgo and libseccomp-dev; make check-unit does).
func TestAgainstLibseccomp(t *testing.T) {
	a, err := lookupArch("amd64")
	if err != nil {
		t.Fatal(err)
	}
	var unknown []string
	for _, e := range a.table {
		nr, ok := libseccomp.Resolve(e.name)
		switch {
		case !ok:
			// Newer than this libseccomp: placed at the table's number,
			// so only the compiler's layout is checked for it.
			unknown = append(unknown, e.name)
		case nr != e.nr:
			t.Errorf("%s: the table says %d, libseccomp %d", e.name, e.nr, nr)
		}
	}
	if len(unknown) > 0 {
		t.Logf("syscalls this libseccomp does not know (checked at the table's numbers): %v", unknown)
	}

	for _, p := range diffProfiles() {
		t.Run(profileName(p), func(t *testing.T) {
			p.Arch = "amd64"
			ours, err := Compile(p)
			if err != nil {
				t.Fatal(err)
			}
			acts, err := actions(p, a)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := libseccompProgram(a, acts)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, ours, theirs, a.maxNr)
		})
	}
}

// diffProfiles is every form a profile takes: the default profile under
// every capability gate, every group retained and removed, with and
// without an errno, @appc.io/all and @appc.io/empty, and --seccomp flags.
func diffProfiles() []Profile {
	capSets := []uint64{0, ^uint64(0)}
	for _, g := range baselineByCap() {
		capSets = append(capSets, 1<<g.cap)
	}
	var out []Profile
	for _, c := range capSets {
		out = append(out, Profile{Mode: ModeDefault, Caps: c})
	}
	groups := []string{GroupRktWhitelist, GroupRktBlacklist, GroupDockerWhitelist, GroupDockerBlacklist}
	for name := range systemdGroups() {
		groups = append(groups, systemdPrefix+name)
	}
	sort.Strings(groups)
	for _, g := range groups {
		for _, mode := range []Mode{ModeRetain, ModeRemove} {
			for _, errno := range []string{"", "EPERM", "ENOSYS", "EACCES"} {
				out = append(out, Profile{Mode: mode, Syscalls: []string{g}, Errno: errno})
			}
		}
	}
	out = append(out,
		Profile{Mode: ModeRetain, Syscalls: []string{GroupAll}},
		Profile{Mode: ModeRetain, Syscalls: []string{GroupAll}, Caps: ^uint64(0)},
		Profile{Mode: ModeRemove, Syscalls: []string{GroupEmpty}},
		Profile{Mode: ModeRemove, Syscalls: []string{GroupEmpty}, Errno: "EPERM"},
	)
	for _, flag := range []string{
		"mode=retain,read,write,exit_group,@systemd/basic-io",
		"mode=retain,errno=ENOTSUP,@systemd/default,@systemd/file-system,clone3,openat2",
		"mode=remove,errno=EPERM,unshare,setns,@systemd/mount",
		"mode=remove,execve,capset,reboot,kexec_load",
		"mode=retain,errno=13,@docker/default-whitelist,ptrace",
	} {
		p, err := ParseFlag(flag)
		if err != nil {
			panic(fmt.Sprintf("parsing %q: %v", flag, err))
		}
		out = append(out, p, Profile{Mode: p.Mode, Syscalls: p.Syscalls, Errno: p.Errno, Caps: ^uint64(0)})
	}
	return out
}

func profileName(p Profile) string {
	s := fmt.Sprintf("%s/%v", p.Mode, p.Syscalls)
	if p.Errno != "" {
		s += "/errno=" + p.Errno
	}
	return s + fmt.Sprintf("/caps=%x", p.Caps)
}

// libseccompProgram has libseccomp build a filter giving every syscall of
// the table its verdict in acts, placed at libseccomp's number for the
// name, with ENOSYS for the rest and for other architectures, as the
// compiler does.
func libseccompProgram(a *arch, acts []uint32) ([]unix.SockFilter, error) {
	enosys := retErrnoOf(int(unix.ENOSYS))
	f, err := libseccomp.New(enosys, enosys)
	if err != nil {
		return nil, err
	}
	defer f.Release()
	for _, e := range a.table {
		act := acts[e.nr]
		if act == enosys {
			continue // the default; libseccomp refuses a rule that repeats it
		}
		nr, ok := libseccomp.Resolve(e.name)
		if !ok {
			nr = e.nr
		}
		if err := f.Add(nr, act); err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
	}
	return f.Export()
}

// compare runs both programs for every number up to past the table's end,
// under x86-64, x32 and i386, and reports every difference.
func compare(t *testing.T, ours, theirs []unix.SockFilter, maxNr int) {
	t.Helper()
	vmOurs, vmTheirs := newVM(t, ours), newVM(t, theirs)
	callers := []struct {
		name string
		arch uint32
		base uint32
		max  uint32
	}{
		{"x86_64", unix.AUDIT_ARCH_X86_64, 0, uint32(maxNr) + 64},
		{"x32", unix.AUDIT_ARCH_X86_64, x32Bit, uint32(maxNr) + 64},
		{"i386", unix.AUDIT_ARCH_I386, 0, uint32(maxNr) + 64},
	}
	bad := 0
	for _, c := range callers {
		for nr := c.base; nr <= c.base+c.max; nr++ {
			want, got := runVM(t, vmTheirs, c.arch, nr), runVM(t, vmOurs, c.arch, nr)
			if got != want {
				bad++
				if bad <= 20 {
					t.Errorf("%s caller, syscall %#x: the compiler gives %#x, libseccomp %#x", c.name, nr, got, want)
				}
			}
		}
	}
	if bad > 20 {
		t.Errorf("... %d differences in all", bad)
	}
}

func newVM(t *testing.T, prog []unix.SockFilter) *bpf.VM {
	t.Helper()
	raw := make([]bpf.Instruction, len(prog))
	for i, in := range prog {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}.Disassemble()
	}
	vm, err := bpf.NewVM(raw)
	if err != nil {
		t.Fatalf("loading the program into the BPF interpreter: %v", err)
	}
	return vm
}

// runVM evaluates the program for a struct seccomp_data (nr, arch,
// instruction pointer, six arguments). The interpreter loads words big
// endian, as from a packet, so the fields are written big endian to read
// back as the kernel's native values.
func runVM(t *testing.T, vm *bpf.VM, arch, nr uint32) uint32 {
	var data [64]byte
	binary.BigEndian.PutUint32(data[offNr:], nr)
	binary.BigEndian.PutUint32(data[offArch:], arch)
	out, err := vm.Run(data[:])
	if err != nil {
		t.Fatalf("running the program: %v", err)
	}
	return uint32(out)
}
