package insecure

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Set
	}{
		{"", None},
		{"none", None},
		{"image", Image},
		{"image,tls", Image | TLS},
		{" tls , http ", TLS | HTTP},
		{"all-fetch", Image | TLS | HTTP | PubKey},
		{"all-run", Capabilities | Paths | Seccomp},
		{"all", Image | TLS | OnDisk | HTTP | PubKey | Capabilities | Paths | Seccomp},
		{"none,image", Image},
		{"ondisk", OnDisk},
		{"pubkey,seccomp", PubKey | Seccomp},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %v, want %v", tt.in, got, tt.want)
			}
			back, err := Parse(got.String())
			if err != nil || back != got {
				t.Fatalf("Parse(%q.String()=%q) = %v, %v", tt.in, got.String(), back, err)
			}
		})
	}
}

func TestParseUnknown(t *testing.T) {
	_, err := Parse("image,foo")
	var u *UnknownOptionError
	if !errors.As(err, &u) || u.Option != "foo" {
		t.Fatalf("Parse(image,foo) = %v, want UnknownOptionError{foo}", err)
	}
	if got := err.Error(); got[:len(`unknown option "foo"`)] != `unknown option "foo"` {
		t.Fatalf("message %q does not start with rkt's wording", got)
	}
}

func TestHasAndString(t *testing.T) {
	s := Image | HTTP
	if !s.Has(Image) || !s.Has(HTTP) || s.Has(TLS) || s.Has(Image|TLS) {
		t.Fatalf("Has wrong for %v", s)
	}
	if got := s.String(); got != "image,http" {
		t.Fatalf("String = %q", got)
	}
	if got := None.String(); got != "none" {
		t.Fatalf("None.String = %q", got)
	}
	if None.Has(Image) {
		t.Fatal("none has image")
	}
}
