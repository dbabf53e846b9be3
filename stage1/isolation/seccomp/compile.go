package seccomp

import (
	"fmt"
	"sort"

	"golang.org/x/sys/unix"
)

// Actions (SECCOMP_RET_*) the compiler emits.
const (
	retAllow       = unix.SECCOMP_RET_ALLOW
	retKillProcess = unix.SECCOMP_RET_KILL_PROCESS
	retErrno       = unix.SECCOMP_RET_ERRNO
)

func retErrnoOf(e int) uint32 { return retErrno | uint32(e)&unix.SECCOMP_RET_DATA }

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
)

// maxJump is the farthest a conditional jump reaches (jt/jf are 8 bits).
const maxJump = 255

// Compile turns a profile into a classic BPF program for seccomp(2). The
// program checks the architecture (any other, and x32 on x86-64, gets
// ENOSYS), then finds the syscall number's action by binary search over
// ranges of numbers with the same action, so a syscall costs about
// log2(ranges) + 4 instructions whatever the set's size.
func Compile(p Profile) ([]unix.SockFilter, error) {
	a, acts, err := profileActions(p)
	if err != nil {
		return nil, err
	}
	return program(a, acts)
}

// CompileAllowed is Compile and Allowed at the cost of one: the actions
// of every syscall number are worked out once (a supervisor needs both
// for each profile, at every pod start).
func CompileAllowed(p Profile) ([]unix.SockFilter, []string, error) {
	a, acts, err := profileActions(p)
	if err != nil {
		return nil, nil, err
	}
	prog, err := program(a, acts)
	if err != nil {
		return nil, nil, err
	}
	return prog, allowedNames(a, acts), nil
}

// profileActions validates p and works out the action of each syscall
// number of its architecture.
func profileActions(p Profile) (*arch, []uint32, error) {
	a, err := lookupArch(p.Arch)
	if err != nil {
		return nil, nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, nil, err
	}
	acts, err := actions(p, a)
	if err != nil {
		return nil, nil, err
	}
	return a, acts, nil
}

// program is the BPF program that gives each syscall number its action.
func program(a *arch, acts []uint32) ([]unix.SockFilter, error) {
	enosys := retErrnoOf(int(unix.ENOSYS))
	prog := []unix.SockFilter{
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArch),
		jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, a.audit, 1, 0),
		stmt(unix.BPF_RET|unix.BPF_K, enosys),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr),
	}
	if a.x32 {
		prog = append(prog,
			jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, x32Bit, 0, 1),
			stmt(unix.BPF_RET|unix.BPF_K, enosys))
	}
	prog = append(prog, search(ranges(acts, enosys))...)
	if len(prog) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("compiling seccomp profile: %w: %d instructions, the kernel takes %d", ErrBadProfile, len(prog), unix.BPF_MAXINSNS)
	}
	return prog, nil
}

// actions returns the action of every syscall number 0..a.maxNr.
func actions(p Profile, a *arch) ([]uint32, error) {
	base := baselineNames(p.Caps)
	var user map[string]bool
	all := false
	if p.Mode != ModeDefault {
		var err error
		user, err = p.expandSet()
		if err != nil {
			return nil, err
		}
		all = user == nil
	}
	var denied map[string]bool
	if p.Mode == ModeDefault {
		denied = defaultDenied(p.Caps)
	}
	life := setOf(lifecycle...)
	userAct := uint32(retKillProcess)
	if p.Errno != "" && p.Mode != ModeDefault {
		e, err := ErrnoNumber(p.Errno)
		if err != nil {
			return nil, err
		}
		userAct = retErrnoOf(e)
	}
	acts := make([]uint32, a.maxNr+1)
	for nr := range acts {
		name, ok := a.byNumber[nr]
		baseDeny := retErrnoOf(int(unix.EPERM))
		if nr >= firstUnifiedNr {
			baseDeny = retErrnoOf(int(unix.ENOSYS))
		}
		switch {
		case !ok:
			acts[nr] = retErrnoOf(int(unix.ENOSYS))
		case !base[name]:
			acts[nr] = baseDeny
		case p.Mode == ModeDefault:
			if !denied[name] {
				acts[nr] = retAllow
			} else {
				acts[nr] = baseDeny
			}
		case p.Mode == ModeRetain:
			switch {
			case all || user[name] || life[name]:
				acts[nr] = retAllow
			case nr >= firstUnifiedNr:
				// Not named by the user: let libc fall back (clone3 -> clone).
				acts[nr] = retErrnoOf(int(unix.ENOSYS))
			default:
				acts[nr] = userAct
			}
		case p.Mode == ModeRemove:
			if user[name] && !mustStayAllowed[name] {
				acts[nr] = userAct
			} else {
				acts[nr] = retAllow
			}
		}
	}
	return acts, nil
}

// mustStayAllowed cannot be removed: the runtime needs them to start the app
// once the filter is in place.
var mustStayAllowed = setOf("execve", "capset")

// span is a range of syscall numbers [lo, next span's lo) with one action.
type span struct {
	lo  uint32
	act uint32
}

// ranges merges consecutive numbers with the same action; numbers past the
// table get above.
func ranges(acts []uint32, above uint32) []span {
	var out []span
	for nr, act := range acts {
		if len(out) == 0 || out[len(out)-1].act != act {
			out = append(out, span{uint32(nr), act})
		}
	}
	if out[len(out)-1].act != above {
		out = append(out, span{uint32(len(acts)), above})
	}
	return out
}

// search emits a binary search over spans (sorted by lo, the first at 0)
// with the syscall number in the accumulator.
func search(spans []span) []unix.SockFilter {
	if len(spans) == 1 {
		return []unix.SockFilter{stmt(unix.BPF_RET|unix.BPF_K, spans[0].act)}
	}
	mid := len(spans) / 2
	left, right := search(spans[:mid]), search(spans[mid:])
	pivot := spans[mid].lo
	out := make([]unix.SockFilter, 0, len(left)+len(right)+2)
	if len(left) <= maxJump {
		out = append(out, jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, pivot, uint8(len(left)), 0))
	} else {
		out = append(out,
			jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, pivot, 0, 1),
			stmt(unix.BPF_JMP|unix.BPF_JA, uint32(len(left))))
	}
	out = append(out, left...)
	return append(out, right...)
}

func stmt(code uint16, k uint32) unix.SockFilter {
	return unix.SockFilter{Code: code, K: k}
}

func jump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}

// Allowed returns the names of the syscalls the profile allows on its
// architecture, sorted: what a user sees of a profile (and what tests check).
func Allowed(p Profile) ([]string, error) {
	a, acts, err := profileActions(p)
	if err != nil {
		return nil, err
	}
	return allowedNames(a, acts), nil
}

func allowedNames(a *arch, acts []uint32) []string {
	var out []string
	for nr, act := range acts {
		if act == retAllow {
			out = append(out, a.byNumber[nr])
		}
	}
	sort.Strings(out)
	return out
}

// BaselineDenied lists, sorted, the syscalls a retain set names that the
// baseline still denies on the profile's architecture (keyctl, bpf, ... or
// a syscall gated on a capability the app does not keep): the part of the
// isolator that cannot be applied, for the caller to report.
func BaselineDenied(p Profile) ([]string, error) {
	if p.Mode != ModeRetain {
		return nil, nil
	}
	a, err := lookupArch(p.Arch)
	if err != nil {
		return nil, err
	}
	user, err := p.expandSet()
	if err != nil {
		return nil, err
	}
	base := baselineNames(p.Caps)
	var out []string
	for n := range user {
		if _, ok := a.number(n); ok && !base[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}
