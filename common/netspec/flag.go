package netspec

import (
	"fmt"
	"sort"
	"strings"
)

// Special --net values. Any other value names a network.
const (
	NetDefault           = "default"            // ptp, 172.16.28.0/24, masqueraded, default route
	NetDefaultRestricted = "default-restricted" // ptp, 172.31.0.0/16, no route out, no masquerade
	NetHost              = "host"               // the host's network namespace
	NetNone              = "none"               // a namespace with loopback only
	NetAll               = "all"                // every configured network plus default
)

// NetRequest is one network a pod asks to join, with the CNI_ARGS for it.
type NetRequest struct {
	Name string
	Args map[string]string
}

// CNIArgs is the request's arguments as CNI_ARGS pairs, sorted by key.
func (r NetRequest) CNIArgs() [][2]string {
	keys := make([]string, 0, len(r.Args))
	for k := range r.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][2]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, [2]string{k, r.Args[k]})
	}
	return out
}

// String renders the request in the --net grammar.
func (r NetRequest) String() string {
	if len(r.Args) == 0 {
		return r.Name
	}
	var b strings.Builder
	b.WriteString(r.Name)
	b.WriteByte(':')
	for i, kv := range r.CNIArgs() {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(kv[0] + "=" + kv[1])
	}
	return b.String()
}

// validNetNameBytes is CNI's rule for network names, ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$
// (the name becomes a directory of host-local and part of iptables
// comments), which also keeps names free of path separators. A loop, not
// a regexp: every `rkt run` checks its --net names, and compiling the
// regexp took about ten page faults of each start.
func validNetNameBytes(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return name != ""
}

// ValidNetName reports whether name may name a configured network.
func ValidNetName(name string) error {
	if len(name) > 128 || !validNetNameBytes(name) {
		return fmt.Errorf("%w: network name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit", ErrUsage, name)
	}
	return nil
}

// ParseNetFlag parses rkt's --net grammar. Each value is a comma-separated
// list of NAME or NAME:K=V;K=V entries; the values of repeated flags are
// concatenated. An empty list means "default" (rkt's CLI turns a bare
// `--net` into "all" before it gets here).
// host, none and all stand alone and take no arguments; a name appears once.
func ParseNetFlag(values []string) ([]NetRequest, error) {
	var reqs []NetRequest
	seen := map[string]bool{}
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			name, argStr, hasArgs := strings.Cut(item, ":")
			if err := ValidNetName(name); err != nil {
				return nil, err
			}
			if seen[name] {
				return nil, fmt.Errorf("%w: network %q given twice", ErrUsage, name)
			}
			seen[name] = true
			req := NetRequest{Name: name}
			if hasArgs {
				switch name {
				case NetHost, NetNone, NetAll:
					return nil, fmt.Errorf("%w: %q takes no arguments", ErrUsage, name)
				}
				args, err := parseArgs(name, argStr)
				if err != nil {
					return nil, err
				}
				req.Args = args
			}
			reqs = append(reqs, req)
		}
	}
	if len(reqs) == 0 {
		return []NetRequest{{Name: NetDefault}}, nil
	}
	if len(reqs) > 1 {
		for _, r := range reqs {
			switch r.Name {
			case NetHost, NetNone, NetAll:
				return nil, fmt.Errorf("%w: %q cannot be combined with other networks", ErrUsage, r.Name)
			}
		}
	}
	return reqs, nil
}

// parseArgs parses K=V;K=V. Keys and values must not contain the list
// separators, since CNI_ARGS has no quoting, and values must not start or
// end with white space.
func parseArgs(net, s string) (map[string]string, error) {
	args := map[string]string{}
	for _, pair := range strings.Split(s, ";") {
		if pair == "" {
			continue
		}
		k, val, ok := strings.Cut(pair, "=")
		// A value may hold spaces, but not at its ends: the end of the
		// list is trimmed, so "a=1 ;b=2" would not read back the same.
		if !ok || k == "" || strings.ContainsAny(k, "=;, \t\n\x00") || strings.ContainsAny(val, "=;,\n\x00") ||
			strings.TrimSpace(val) != val {
			return nil, fmt.Errorf("%w: network %q: argument %q: want KEY=VALUE", ErrUsage, net, pair)
		}
		if _, dup := args[k]; dup {
			return nil, fmt.Errorf("%w: network %q: argument %q given twice", ErrUsage, net, k)
		}
		args[k] = val
	}
	if len(args) == 0 {
		return nil, nil
	}
	return args, nil
}

// IsHost reports whether reqs ask for the host's network namespace.
func IsHost(reqs []NetRequest) bool {
	return len(reqs) == 1 && reqs[0].Name == NetHost
}
