package isospec

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// SeccompMode says how a seccomp set's syscalls are read.
type SeccompMode int

const (
	// SeccompDefault: no seccomp isolator; stage1's default profile applies.
	SeccompDefault SeccompMode = iota
	// SeccompRetain: the set's syscalls are the only ones allowed (os/linux/seccomp-retain-set).
	SeccompRetain
	// SeccompRemove: the set's syscalls are denied, the rest allowed (os/linux/seccomp-remove-set).
	SeccompRemove
)

func (m SeccompMode) String() string {
	switch m {
	case SeccompDefault:
		return "default"
	case SeccompRetain:
		return "retain"
	case SeccompRemove:
		return "remove"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// Group names of the seccomp sets, usable in sets besides
// "@systemd/<name>".
const (
	GroupAll             = "@appc.io/all"   // retain-set: every syscall (the baseline still applies)
	GroupEmpty           = "@appc.io/empty" // remove-set: nothing (the baseline still applies)
	GroupRktWhitelist    = "@rkt/default-whitelist"
	GroupRktBlacklist    = "@rkt/default-blacklist"
	GroupDockerWhitelist = "@docker/default-whitelist" // alias of @rkt/default-whitelist
	GroupDockerBlacklist = "@docker/default-blacklist" // alias of @rkt/default-blacklist
	SystemdGroupPrefix   = "@systemd/"
)

// SeccompSet is a seccomp isolator as --seccomp gives it.
type SeccompSet struct {
	Mode     SeccompMode
	Syscalls []string // syscall names and @groups
	Errno    string   // "" when none was given
}

// ParseSeccompFlag parses rkt's --seccomp value:
// "mode=retain|remove[,errno=E],SYSCALL|@GROUP,...".
func ParseSeccompFlag(s string) (SeccompSet, error) {
	var p SeccompSet
	modeSeen := false
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case strings.HasPrefix(f, "mode="):
			switch v := strings.TrimPrefix(f, "mode="); v {
			case "retain":
				p.Mode = SeccompRetain
			case "remove":
				p.Mode = SeccompRemove
			default:
				return SeccompSet{}, fmt.Errorf("parsing --seccomp %q: %w: mode must be retain or remove, not %q", s, ErrBadSeccomp, v)
			}
			modeSeen = true
		case strings.HasPrefix(f, "errno="):
			p.Errno = strings.TrimPrefix(f, "errno=")
			if _, err := ErrnoNumber(p.Errno); err != nil {
				return SeccompSet{}, fmt.Errorf("parsing --seccomp %q: %w", s, err)
			}
		default:
			p.Syscalls = append(p.Syscalls, f)
		}
	}
	if !modeSeen {
		return SeccompSet{}, fmt.Errorf("parsing --seccomp %q: %w: missing mode=retain or mode=remove", s, ErrBadSeccomp)
	}
	if len(p.Syscalls) == 0 {
		return SeccompSet{}, fmt.Errorf("parsing --seccomp %q: %w: no syscalls", s, ErrBadSeccomp)
	}
	if err := p.Validate(); err != nil {
		return SeccompSet{}, fmt.Errorf("parsing --seccomp %q: %w", s, err)
	}
	return p, nil
}

// Validate checks the mode, errno and every name of the set: what stage1
// would refuse to compile.
func (p SeccompSet) Validate() error {
	switch p.Mode {
	case SeccompDefault:
		return nil
	case SeccompRetain, SeccompRemove:
	default:
		return fmt.Errorf("%w: unknown mode %d", ErrBadSeccomp, int(p.Mode))
	}
	if len(p.Syscalls) == 0 {
		return fmt.Errorf("%w: %s mode with an empty set", ErrBadSeccomp, p.Mode)
	}
	if p.Errno != "" {
		if _, err := ErrnoNumber(p.Errno); err != nil {
			return err
		}
	}
	for _, s := range p.Syscalls {
		switch {
		case s == GroupAll:
			if p.Mode != SeccompRetain {
				return fmt.Errorf("%w: %s only makes sense in a retain set", ErrBadSeccomp, s)
			}
			return nil // the rest of the set is not read
		case s == GroupEmpty:
			if p.Mode != SeccompRemove {
				return fmt.Errorf("%w: %s only makes sense in a remove set", ErrBadSeccomp, s)
			}
			return nil
		case strings.HasPrefix(s, "@"):
			if !KnownGroup(s) {
				return fmt.Errorf("%w: %q", ErrUnknownGroup, s)
			}
		default:
			if !KnownSyscall(s) {
				return fmt.Errorf("%w: %q", ErrUnknownSyscall, s)
			}
		}
	}
	return nil
}

var (
	knownSyscalls = sync.OnceValue(func() map[string]bool { return fieldSet(syscallNames) })
	knownSystemd  = sync.OnceValue(func() map[string]bool { return fieldSet(systemdGroupNames) })
)

func fieldSet(s string) map[string]bool {
	f := strings.Fields(s)
	m := make(map[string]bool, len(f))
	for _, n := range f {
		m[n] = true
	}
	return m
}

// KnownSyscall reports whether a set may name the syscall: it is one on
// some architecture stage1 knows.
func KnownSyscall(name string) bool { return knownSyscalls()[name] }

// KnownGroup reports whether g names a group (other than GroupAll and
// GroupEmpty) that a set may name.
func KnownGroup(g string) bool {
	switch g {
	case GroupRktBlacklist, GroupDockerBlacklist, GroupRktWhitelist, GroupDockerWhitelist:
		return true
	}
	name, ok := strings.CutPrefix(g, SystemdGroupPrefix)
	return ok && knownSystemd()[name]
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
