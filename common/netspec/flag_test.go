package netspec

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestParseNetFlag(t *testing.T) {
	tests := []struct {
		in   []string
		want []NetRequest
	}{
		{nil, []NetRequest{{Name: "default"}}},
		{[]string{""}, []NetRequest{{Name: "default"}}},
		{[]string{"host"}, []NetRequest{{Name: "host"}}},
		{[]string{"none"}, []NetRequest{{Name: "none"}}},
		{[]string{"all"}, []NetRequest{{Name: "all"}}},
		{[]string{"default,default-restricted"}, []NetRequest{{Name: "default"}, {Name: "default-restricted"}}},
		{[]string{"net1:IP=10.1.2.3;k=v", "net2"}, []NetRequest{
			{Name: "net1", Args: map[string]string{"IP": "10.1.2.3", "k": "v"}}, {Name: "net2"}}},
		{[]string{"a.b_c-1:"}, []NetRequest{{Name: "a.b_c-1"}}},
	}
	for _, tt := range tests {
		got, err := ParseNetFlag(tt.in)
		if err != nil {
			t.Errorf("ParseNetFlag(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseNetFlag(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseNetFlagRejects(t *testing.T) {
	for _, in := range [][]string{
		{"host,default"},
		{"none", "default"},
		{"all,net1"},
		{"host:IP=1.2.3.4"},
		{"../etc"},
		{"net/1"},
		{"-net"},
		{"net1,net1"},
		{"net1:IP"},
		{"net1:=v"},
		{"net1:IP=1=2"},
		{"net1:k=v;k=w"},
	} {
		if got, err := ParseNetFlag(in); !errors.Is(err, ErrUsage) {
			t.Errorf("ParseNetFlag(%q) = %+v, %v; want ErrUsage", in, got, err)
		}
	}
}

func TestNetRequestString(t *testing.T) {
	r := NetRequest{Name: "n", Args: map[string]string{"b": "2", "IP": "1.2.3.4"}}
	if got, want := r.String(), "n:IP=1.2.3.4;b=2"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	back, err := ParseNetFlag([]string{r.String()})
	if err != nil || !reflect.DeepEqual(back, []NetRequest{r}) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

// The name check is CNI's regexp for network names, written as a loop;
// both must agree on every name, the edge bytes included.
func TestValidNetNameIsCNIRule(t *testing.T) {
	cni := regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`)
	names := []string{"", "a", "A9", "9a", "my-net", "my_net.v2", "-x", "_x", ".x", "a/b", "a b", "a:b", "ü", "a\x00", "a-", "a.", "x--y"}
	for c := 0; c < 256; c++ {
		names = append(names, string([]byte{byte(c)}), "a"+string([]byte{byte(c)}))
	}
	for _, n := range names {
		if got, want := ValidNetName(n) == nil, cni.MatchString(n); got != want {
			t.Errorf("ValidNetName(%q) accepts = %v, CNI's rule says %v", n, got, want)
		}
	}
	if err := ValidNetName(strings.Repeat("a", 129)); err == nil {
		t.Error("a 129-byte name was accepted")
	}
}
