package isospec

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// CapSet is a set of capabilities: bit n is capability n.
type CapSet uint64

// capNames are the capabilities by number (linux/capability.h), without
// the CAP_ prefix.
var capNames = []string{
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
	"setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
	"ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
	"sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
	"lease", "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog",
	"wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
}

// NumCaps is how many capabilities have a name here (0..NumCaps-1).
func NumCaps() int { return len(capNames) }

// Has reports whether capability c is in s.
func (s CapSet) Has(c int) bool { return c >= 0 && c < 64 && s&(1<<uint(c)) != 0 }

// Names lists s as "CAP_..." names in number order.
func (s CapSet) Names() []string {
	out := make([]string, 0, bits.OnesCount64(uint64(s)))
	for c := 0; c < 64; c++ {
		if s.Has(c) {
			if c < len(capNames) {
				out = append(out, "CAP_"+strings.ToUpper(capNames[c]))
			} else {
				out = append(out, "CAP_"+strconv.Itoa(c))
			}
		}
	}
	return out
}

func (s CapSet) String() string { return strings.Join(s.Names(), ",") }

// ParseCapName returns the number of a capability named with or without
// the CAP_ prefix, in any case ("CAP_NET_ADMIN", "net_admin").
func ParseCapName(name string) (int, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	n = strings.TrimPrefix(n, "cap_")
	for i, c := range capNames {
		if c == n {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownCapability, name)
}

// ParseCaps returns the set of the named capabilities.
func ParseCaps(list []string) (CapSet, error) {
	var s CapSet
	for _, n := range list {
		c, err := ParseCapName(n)
		if err != nil {
			return 0, err
		}
		s |= 1 << uint(c)
	}
	return s, nil
}

// ParseCapList parses a comma-separated list, as --caps-retain and
// --caps-remove take it.
func ParseCapList(list string) (CapSet, error) {
	var fields []string
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f != "" {
			fields = append(fields, f)
		}
	}
	return ParseCaps(fields)
}
