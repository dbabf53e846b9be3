package netspec

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseNetFlag feeds the --net grammar arbitrary values, one flag per
// line. Seeds are the forms rkt's networking guide uses. Properties:
//   - every refusal matches ErrUsage;
//   - an accepted list is non-empty, names valid networks once each, and
//     host, none and all stand alone without arguments;
//   - rendering the requests (String) and parsing them again gives the
//     same requests: what stage0 records, stage1 reads back the same.
func FuzzParseNetFlag(f *testing.F) {
	for _, s := range []string{
		"", "default", "host", "none", "all", "default-restricted",
		"default,default-restricted",
		"net1:IP=10.1.2.3;k=v\nnet2",
		"ptp0:IP=172.16.28.2",
		" mynet , other:IP=10.0.0.5 ",
		"macvlan:IP=192.168.1.5;IgnoreUnknown=1",
		"host:IP=1.2.3.4", "../etc", "net1,net1", "net1:k=v;k=w",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		values := strings.Split(in, "\n")
		reqs, err := ParseNetFlag(values)
		if err != nil {
			if !errors.Is(err, ErrUsage) {
				t.Fatalf("ParseNetFlag(%q): error not ErrUsage: %v", values, err)
			}
			return
		}
		if len(reqs) == 0 {
			t.Fatalf("ParseNetFlag(%q): no networks", values)
		}
		seen := map[string]bool{}
		rendered := make([]string, 0, len(reqs))
		for _, r := range reqs {
			if err := ValidNetName(r.Name); err != nil {
				t.Fatalf("ParseNetFlag(%q) accepted the name %q: %v", values, r.Name, err)
			}
			if seen[r.Name] {
				t.Fatalf("ParseNetFlag(%q): %q twice", values, r.Name)
			}
			seen[r.Name] = true
			switch r.Name {
			case NetHost, NetNone, NetAll:
				if len(reqs) != 1 || len(r.Args) != 0 {
					t.Fatalf("ParseNetFlag(%q) = %+v: %q must stand alone", values, reqs, r.Name)
				}
			}
			rendered = append(rendered, r.String())
		}
		if IsHost(reqs) != (reqs[0].Name == NetHost) {
			t.Fatalf("IsHost(%+v) = %v", reqs, IsHost(reqs))
		}
		again, err := ParseNetFlag([]string{strings.Join(rendered, ",")})
		if err != nil {
			t.Fatalf("ParseNetFlag(%q) = %+v, rendered as %q, which does not parse: %v", values, reqs, rendered, err)
		}
		if !reflect.DeepEqual(again, reqs) {
			t.Fatalf("ParseNetFlag(%q) = %+v, rendered as %q, parsed back as %+v", values, reqs, rendered, again)
		}
	})
}
