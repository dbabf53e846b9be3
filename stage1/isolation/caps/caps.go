// Package caps computes an app's capability set from appc isolators and
// rkt's flags, and starts the app with it: bounding set, effective,
// permitted and inheritable sets, ambient set, user and groups,
// no_new_privs and a seccomp filter, applied in the one order that works
// (PrepareAndExec).
//
// Invariants:
//   - An app keeps at most its Set: every other capability leaves the
//     bounding set, so not even a setuid-root or file-capability binary in
//     the image regains it.
//   - An app whose uid is not 0 has no capability at all: effective,
//     permitted, inheritable and ambient sets are empty (the bounding set is
//     still limited to the Set).
//   - A root app has effective = permitted = its Set; the inheritable and
//     ambient sets are always empty (runc's answer to CVE-2022-24769).
//   - No app runs with weaker seccomp filtering than asked: the filter is in
//     place before execve, installed either under no_new_privs or, when the
//     app does not ask for no_new_privs, while the thread still holds
//     CAP_SYS_ADMIN, which is then dropped (the filter always allows capset
//     and execve for this).
//
// The sequence, on one locked OS thread, ending in execve(2) from it
// (capabilities, no_new_privs and seccomp filters are per thread):
//
//	chroot(Root), chdir("/")          as root
//	resolve Path in Env's PATH        inside Root
//	PR_CAPBSET_DROP every cap not in Set   (needs CAP_SETPCAP)
//	PR_CAP_AMBIENT_CLEAR_ALL
//	PR_SET_KEEPCAPS 1                 (only to keep CAP_SYS_ADMIN for the filter)
//	setgroups, setresgid, setresuid   this thread only
//	chdir(Dir)                        as the app's user
//	capset(Set or {}, + CAP_SYS_ADMIN if still needed)
//	PR_SET_NO_NEW_PRIVS               when asked
//	seccomp(SET_MODE_FILTER)          when given
//	capset(final)                     when CAP_SYS_ADMIN was kept
//	execve
package caps

import (
	"fmt"

	"github.com/appc/spec/schema/types"
	"github.com/moby/sys/capability"

	"github.com/rkt/rkt/common/isospec"
)

// Set is a set of capabilities: bit n is capability n. Its names and
// their parsing are the isolator grammar both stages share (isospec).
type Set = isospec.CapSet

// Capability numbers (linux/capability.h) used by name in this package.
const (
	Chown          = 0
	DacOverride    = 1
	Fowner         = 3
	Fsetid         = 4
	Kill           = 5
	Setgid         = 6
	Setuid         = 7
	Setpcap        = 8
	NetBindService = 10
	NetAdmin       = 12
	NetRaw         = 13
	SysChroot      = 18
	SysAdmin       = 21
	SysTime        = 25
	Mknod          = 27
	AuditWrite     = 29
	Setfcap        = 31
)

// Of returns the set of the given capability numbers.
func Of(caps ...int) Set {
	var s Set
	for _, c := range caps {
		s |= 1 << uint(c)
	}
	return s
}

// Default is rkt's (and appc's) default set: what an app keeps when it has
// no capabilities isolator.
var Default = Of(AuditWrite, Chown, DacOverride, Fsetid, Fowner, Kill, Mknod, NetRaw,
	NetBindService, Setuid, Setgid, Setpcap, Setfcap, SysChroot)

// All is every capability this package knows.
var All = Set(1)<<uint(isospec.NumCaps()) - 1

// ParseName returns the number of a capability named with or without the
// CAP_ prefix, in any case ("CAP_NET_ADMIN", "net_admin").
func ParseName(name string) (int, error) { return isospec.ParseCapName(name) }

// Parse returns the set of the named capabilities.
func Parse(list []string) (Set, error) { return isospec.ParseCaps(list) }

// ParseList parses a comma-separated list, as --caps-retain and
// --caps-remove take it.
func ParseList(list string) (Set, error) { return isospec.ParseCapList(list) }

// FromFlags computes the set of rkt's --caps-retain and --caps-remove
// values (at most one may be non-empty); given is false when both are
// empty, and then the image's isolators decide.
func FromFlags(retain, remove string) (set Set, given bool, err error) {
	switch {
	case retain != "" && remove != "":
		return 0, false, fmt.Errorf("parsing --caps-retain and --caps-remove: %w", ErrConflict)
	case retain != "":
		s, err := ParseList(retain)
		if err != nil {
			return 0, false, fmt.Errorf("parsing --caps-retain: %w", err)
		}
		return s, true, nil
	case remove != "":
		s, err := ParseList(remove)
		if err != nil {
			return 0, false, fmt.Errorf("parsing --caps-remove: %w", err)
		}
		return Default &^ s, true, nil
	}
	return Default, false, nil
}

// FromIsolators computes an app's set: its os/linux/capabilities-retain-set,
// or Default minus its os/linux/capabilities-remove-set, or Default.
func FromIsolators(isolators types.Isolators) (Set, error) {
	var retain, remove *Set
	for i := range isolators {
		iso := &isolators[i]
		var dst **Set
		switch iso.Name {
		case types.LinuxCapabilitiesRetainSetName:
			dst = &retain
		case types.LinuxCapabilitiesRevokeSetName:
			dst = &remove
		default:
			continue
		}
		v, ok := iso.Value().(types.LinuxCapabilitiesSet)
		if !ok {
			return 0, fmt.Errorf("reading isolator %s: unexpected value %T", iso.Name, iso.Value())
		}
		var list []string
		for _, c := range v.Set() {
			list = append(list, string(c))
		}
		s, err := Parse(list)
		if err != nil {
			return 0, fmt.Errorf("reading isolator %s: %w", iso.Name, err)
		}
		if *dst != nil {
			s |= **dst
		}
		*dst = &s
	}
	switch {
	case retain != nil && remove != nil:
		return 0, fmt.Errorf("reading capabilities isolators: %w", ErrConflict)
	case retain != nil:
		return *retain, nil
	case remove != nil:
		return Default &^ *remove, nil
	}
	return Default, nil
}

// NoNewPrivileges reports the app's os/linux/no-new-privileges isolator.
func NoNewPrivileges(isolators types.Isolators) bool {
	for i := range isolators {
		if isolators[i].Name != types.LinuxNoNewPrivilegesName {
			continue
		}
		if v, ok := isolators[i].Value().(*types.LinuxNoNewPrivileges); ok && bool(*v) {
			return true
		}
	}
	return false
}

// LastCap is the highest capability number the running kernel knows (what
// /proc/sys/kernel/cap_last_cap says). moby/sys/capability finds it with
// PR_CAPBSET_READ, which works without /proc (inside an app's root), once
// per process.
func LastCap() (int, error) {
	c, err := capability.LastCap()
	return int(c), err
}
