package seccomp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/appc/spec/schema/types"
	"golang.org/x/sys/unix"
)

// Mode says how a profile's Syscalls are read.
type Mode int

const (
	// ModeDefault: no seccomp isolator; the default profile applies and
	// Syscalls and Errno are ignored.
	ModeDefault Mode = iota
	// ModeRetain: Syscalls are the only ones allowed (os/linux/seccomp-retain-set).
	ModeRetain
	// ModeRemove: Syscalls are denied, the rest allowed (os/linux/seccomp-remove-set).
	ModeRemove
)

func (m Mode) String() string {
	switch m {
	case ModeDefault:
		return "default"
	case ModeRetain:
		return "retain"
	case ModeRemove:
		return "remove"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// Profile is what a filter is compiled from. Two profiles with the same Key
// compile to the same filter.
type Profile struct {
	Mode Mode
	// Syscalls are syscall names and @groups (see the package doc).
	Syscalls []string
	// Errno is returned by the syscalls the app's set denies ("EPERM",
	// "ENOSYS", ...). Empty: such a syscall kills the process with SIGSYS,
	// as in rkt and systemd. Syscalls only the baseline denies always
	// return EPERM (ENOSYS from number 424 on).
	Errno string
	// Caps are the capabilities the app keeps (bit n = capability n): like
	// systemd-nspawn, the baseline allows e.g. settimeofday only to an app
	// keeping CAP_SYS_TIME.
	Caps uint64
	// Arch is the GOARCH to compile for; "" is the running one.
	Arch string
}

// compilerVersion changes whenever the same profile would compile to a
// different program; it is part of the cache key.
const compilerVersion = 1

// Key is a hex SHA-256 over the profile's canonical form (mode, sorted
// de-duplicated set, errno, caps, arch) and the compiler version.
func (p Profile) Key() string {
	goarch := p.Arch
	if goarch == "" {
		goarch = defaultArch()
	}
	set := canonicalSet(p.Syscalls)
	errno := p.Errno
	if p.Mode == ModeDefault {
		set, errno = nil, ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "rkt-seccomp v%d\nmode=%s\narch=%s\nerrno=%s\ncaps=%x\n", compilerVersion, p.Mode, goarch, errno, p.Caps)
	for _, s := range set {
		fmt.Fprintf(h, "%s\n", s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func canonicalSet(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// ParseFlag parses rkt's --seccomp value: "mode=retain|remove[,errno=E],SYSCALL|@GROUP,...".
func ParseFlag(s string) (Profile, error) {
	var p Profile
	modeSeen := false
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case strings.HasPrefix(f, "mode="):
			switch v := strings.TrimPrefix(f, "mode="); v {
			case "retain":
				p.Mode = ModeRetain
			case "remove":
				p.Mode = ModeRemove
			default:
				return Profile{}, fmt.Errorf("parsing --seccomp %q: %w: mode must be retain or remove, not %q", s, ErrBadProfile, v)
			}
			modeSeen = true
		case strings.HasPrefix(f, "errno="):
			p.Errno = strings.TrimPrefix(f, "errno=")
			if _, err := ErrnoNumber(p.Errno); err != nil {
				return Profile{}, fmt.Errorf("parsing --seccomp %q: %w", s, err)
			}
		default:
			p.Syscalls = append(p.Syscalls, f)
		}
	}
	if !modeSeen {
		return Profile{}, fmt.Errorf("parsing --seccomp %q: %w: missing mode=retain or mode=remove", s, ErrBadProfile)
	}
	if len(p.Syscalls) == 0 {
		return Profile{}, fmt.Errorf("parsing --seccomp %q: %w: no syscalls", s, ErrBadProfile)
	}
	if err := p.Validate(); err != nil {
		return Profile{}, fmt.Errorf("parsing --seccomp %q: %w", s, err)
	}
	return p, nil
}

// FromIsolators returns the profile of an app's isolators: its
// os/linux/seccomp-retain-set or -remove-set, or the default profile when
// it has neither. Caps and Arch are left for the caller.
func FromIsolators(isolators types.Isolators) (Profile, error) {
	var found []Profile
	for i := range isolators {
		iso := &isolators[i]
		var mode Mode
		switch iso.Name {
		case types.LinuxSeccompRetainSetName:
			mode = ModeRetain
		case types.LinuxSeccompRemoveSetName:
			mode = ModeRemove
		default:
			continue
		}
		set, ok := iso.Value().(types.LinuxSeccompSet)
		if !ok {
			return Profile{}, fmt.Errorf("reading isolator %s: %w: unexpected value", iso.Name, ErrBadProfile)
		}
		p := Profile{Mode: mode, Errno: string(set.Errno())}
		for _, e := range set.Set() {
			p.Syscalls = append(p.Syscalls, string(e))
		}
		if err := p.Validate(); err != nil {
			return Profile{}, fmt.Errorf("reading isolator %s: %w", iso.Name, err)
		}
		found = append(found, p)
	}
	switch len(found) {
	case 0:
		return Profile{Mode: ModeDefault}, nil
	case 1:
		return found[0], nil
	}
	return Profile{}, fmt.Errorf("reading seccomp isolators: %w: only one of %s and %s may be given, once",
		ErrBadProfile, types.LinuxSeccompRetainSetName, types.LinuxSeccompRemoveSetName)
}

// Validate checks the mode, errno and every name of the set without
// compiling.
func (p Profile) Validate() error {
	switch p.Mode {
	case ModeDefault:
		return nil
	case ModeRetain, ModeRemove:
	default:
		return fmt.Errorf("%w: unknown mode %d", ErrBadProfile, int(p.Mode))
	}
	if len(p.Syscalls) == 0 {
		return fmt.Errorf("%w: %s mode with an empty set", ErrBadProfile, p.Mode)
	}
	if p.Errno != "" {
		if _, err := ErrnoNumber(p.Errno); err != nil {
			return err
		}
	}
	_, err := p.expandSet()
	return err
}

// expandSet resolves the profile's names and groups into syscall names.
// all reports @appc.io/all (retain) and the set is then nil; @appc.io/empty
// (remove) yields an empty set.
func (p Profile) expandSet() (map[string]bool, error) {
	out := make(map[string]bool)
	for _, s := range p.Syscalls {
		switch {
		case s == GroupAll:
			if p.Mode != ModeRetain {
				return nil, fmt.Errorf("%w: %s only makes sense in a retain set", ErrBadProfile, s)
			}
			return nil, nil
		case s == GroupEmpty:
			if p.Mode != ModeRemove {
				return nil, fmt.Errorf("%w: %s only makes sense in a remove set", ErrBadProfile, s)
			}
			return map[string]bool{}, nil
		case strings.HasPrefix(s, "@"):
			names, ok := expandGroup(s)
			if !ok {
				return nil, fmt.Errorf("%w: %q", ErrUnknownGroup, s)
			}
			for _, n := range names {
				out[n] = true
			}
		default:
			if !knownAnywhere(s) {
				return nil, fmt.Errorf("%w: %q", ErrUnknownSyscall, s)
			}
			out[s] = true
		}
	}
	return out, nil
}

var errnoByName = sync.OnceValue(func() map[string]int {
	// Aliases first: ErrnoName gives only one name per number.
	m := map[string]int{
		"ENOTSUP": int(unix.ENOTSUP), "EOPNOTSUPP": int(unix.EOPNOTSUPP),
		"EWOULDBLOCK": int(unix.EWOULDBLOCK), "EAGAIN": int(unix.EAGAIN),
		"EDEADLOCK": int(unix.EDEADLOCK), "EDEADLK": int(unix.EDEADLK),
	}
	for i := 1; i < 256; i++ {
		if n := unix.ErrnoName(syscall.Errno(i)); n != "" {
			if _, dup := m[n]; !dup {
				m[n] = i
			}
		}
	}
	return m
})

// ErrnoNumber returns the number of an errno name ("EPERM") or of a decimal
// number in 1..4095 (what SECCOMP_RET_ERRNO can carry).
func ErrnoNumber(name string) (int, error) {
	if n, ok := errnoByName()[name]; ok {
		return n, nil
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 1 && n <= 4095 {
		return n, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrBadErrno, name)
}
