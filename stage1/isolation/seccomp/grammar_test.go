package seccomp

import (
	"testing"

	"github.com/rkt/rkt/common/isospec"
)

// TestGrammarMatchesTables: stage0 validates --seccomp with isospec's name
// lists, so they must say yes exactly where the compiler's tables do.
func TestGrammarMatchesTables(t *testing.T) {
	known := map[string]bool{}
	for _, a := range arches() {
		for _, e := range a.table {
			known[e.name] = true
		}
	}
	for n := range knownElsewhere() {
		known[n] = true
	}
	for n := range known {
		if !isospec.KnownSyscall(n) {
			t.Errorf("isospec does not know syscall %q", n)
		}
	}
	for _, n := range []string{"frobnicate", "", "@systemd/nope", "SYS_read"} {
		if isospec.KnownSyscall(n) != knownAnywhere(n) {
			t.Errorf("KnownSyscall(%q) = %v, tables say %v", n, isospec.KnownSyscall(n), knownAnywhere(n))
		}
	}
	for name := range systemdGroups() {
		if !isospec.KnownGroup(systemdPrefix + name) {
			t.Errorf("isospec does not know group %q", systemdPrefix+name)
		}
	}
	for _, g := range []string{GroupRktWhitelist, GroupRktBlacklist, GroupDockerWhitelist, GroupDockerBlacklist, "@systemd/nope", "@rkt/nope"} {
		_, ok := expandGroup(g)
		if isospec.KnownGroup(g) != ok {
			t.Errorf("KnownGroup(%q) = %v, expandGroup says %v", g, isospec.KnownGroup(g), ok)
		}
	}
}
