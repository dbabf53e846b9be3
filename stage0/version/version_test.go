package version

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The default Version is the VERSION file's release with "+dev", so a plain
// go build reports the same rkt line as make does.
func TestDefaultVersionFollowsVersionFile(t *testing.T) {
	b, err := os.ReadFile("../../VERSION")
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSpace(string(b))
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(base) {
		t.Fatalf("VERSION holds %q, want MAJOR.MINOR.PATCH", base)
	}
	if Version != base+"+dev" {
		t.Errorf("Version = %q, want %q (VERSION with +dev)", Version, base+"+dev")
	}
}
