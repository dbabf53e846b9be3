package seccomp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/common/isospec"
)

// Mode says how a profile's Syscalls are read (the grammar is isospec's).
type Mode = isospec.SeccompMode

const (
	// ModeDefault: no seccomp isolator; the default profile applies and
	// Syscalls and Errno are ignored.
	ModeDefault = isospec.SeccompDefault
	// ModeRetain: Syscalls are the only ones allowed (os/linux/seccomp-retain-set).
	ModeRetain = isospec.SeccompRetain
	// ModeRemove: Syscalls are denied, the rest allowed (os/linux/seccomp-remove-set).
	ModeRemove = isospec.SeccompRemove
)

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

// ParseFlag parses rkt's --seccomp value: "mode=retain|remove[,errno=E],SYSCALL|@GROUP,..."
// (isospec.ParseSeccompFlag), and checks it as a profile.
func ParseFlag(s string) (Profile, error) {
	f, err := isospec.ParseSeccompFlag(s)
	if err != nil {
		return Profile{}, err
	}
	p := Profile{Mode: f.Mode, Syscalls: f.Syscalls, Errno: f.Errno}
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
// compiling: the grammar's checks (isospec), then the resolution of the
// names against this package's tables.
func (p Profile) Validate() error {
	if err := (isospec.SeccompSet{Mode: p.Mode, Syscalls: p.Syscalls, Errno: p.Errno}).Validate(); err != nil {
		return err
	}
	if p.Mode == ModeDefault {
		return nil
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

// ErrnoNumber returns the number of an errno name ("EPERM") or of a decimal
// number in 1..4095 (what SECCOMP_RET_ERRNO can carry).
func ErrnoNumber(name string) (int, error) { return isospec.ErrnoNumber(name) }
