// Package insecure is the typed set behind --insecure-options.
//
// Every check that a user may switch off has one bit here, so that skipping a
// check is always an explicit branch on a named option (`if set.Has(Image)`)
// and never the side effect of a missing value. The zero Set is "none": every
// check on. Parse accepts exactly rkt v1.30's option names, plus the group
// names all-fetch, all-run and all; String prints the individual names in a
// fixed order, so Parse(s.String()) == s.
package insecure

import (
	"fmt"
	"strings"
)

// Set is a set of disabled security checks.
type Set uint

const (
	// Image skips image signature verification.
	Image Set = 1 << iota
	// TLS skips TLS certificate verification.
	TLS
	// OnDisk skips on-disk verification of rendered trees (accepted for
	// compatibility; it was a no-op in rkt 1.30 too).
	OnDisk
	// HTTP allows plain http for image downloads and discovery.
	HTTP
	// PubKey allows keys discovered over http or unverified TLS to be trusted.
	PubKey
	// Capabilities gives apps every capability.
	Capabilities
	// Paths leaves the host's sensitive /proc and /sys paths writable.
	Paths
	// Seccomp disables the seccomp filter.
	Seccomp
)

const (
	// None is the empty set: every check on.
	None Set = 0
	// AllFetch is every option that concerns fetching.
	AllFetch = Image | TLS | HTTP | PubKey
	// AllRun is every option that concerns running.
	AllRun = Capabilities | Paths | Seccomp
	// All is every option.
	All = AllFetch | AllRun | OnDisk
)

// names lists the individual options in String's order.
var names = []struct {
	name string
	set  Set
}{
	{"image", Image},
	{"tls", TLS},
	{"ondisk", OnDisk},
	{"http", HTTP},
	{"pubkey", PubKey},
	{"capabilities", Capabilities},
	{"paths", Paths},
	{"seccomp", Seccomp},
}

var groups = map[string]Set{
	"none":      None,
	"all-fetch": AllFetch,
	"all-run":   AllRun,
	"all":       All,
}

// Parse reads a comma-separated list of option names. An empty string is
// "none". An unknown name is an *UnknownOptionError naming it.
func Parse(s string) (Set, error) {
	var set Set
	for _, word := range strings.Split(s, ",") {
		word = strings.TrimSpace(word)
		if word == "" {
			continue
		}
		if g, ok := groups[word]; ok {
			set |= g
			continue
		}
		found := false
		for _, n := range names {
			if n.name == word {
				set |= n.set
				found = true
				break
			}
		}
		if !found {
			return 0, &UnknownOptionError{Option: word}
		}
	}
	return set, nil
}

// Has reports whether every option of o is in s.
func (s Set) Has(o Set) bool { return s&o == o }

// String returns the comma-separated names of the options in s, or "none".
func (s Set) String() string {
	if s == None {
		return "none"
	}
	var out []string
	for _, n := range names {
		if s&n.set != 0 {
			out = append(out, n.name)
		}
	}
	return strings.Join(out, ",")
}

// Names returns every option name Parse accepts, individual ones first.
func Names() []string {
	out := make([]string, 0, len(names)+len(groups))
	for _, n := range names {
		out = append(out, n.name)
	}
	return append(out, "none", "all-fetch", "all-run", "all")
}

// UnknownOptionError is returned by Parse for a name it does not know.
type UnknownOptionError struct{ Option string }

func (e *UnknownOptionError) Error() string {
	return fmt.Sprintf("unknown option %q (known: %s)", e.Option, strings.Join(Names(), ", "))
}
