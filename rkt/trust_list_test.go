package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rkt/rkt/stage0/trust/trusttest"
)

// TestTrustListWithBadKeyFile: a bad key file made trust --list print
// nothing; it now lists the good keys, names the bad file on stderr and
// exits 254.
func TestTrustListWithBadKeyFile(t *testing.T) {
	e := newEnv(t)
	k := trusttest.NewKey(t, "Good <good@example.com>")
	trusttest.WriteKeyring(t, e.local, "example.com/app", k)
	bad := prefixKeyPath(e.local, "example.com", strings.Repeat("ab", 20))
	if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("<html>not a key</html>"), 0o644); err != nil {
		t.Fatal(err)
	}

	r := e.rkt(t, "", "trust", "--list", "--format=json")
	if r.code != 254 {
		t.Fatalf("rc %d, want 254; stderr %q", r.code, r.stderr)
	}
	var keys []struct{ Fingerprint string }
	if err := json.Unmarshal([]byte(r.stdout), &keys); err != nil || len(keys) != 1 || keys[0].Fingerprint != k.Fingerprint {
		t.Errorf("stdout %q (%v), want the good key", r.stdout, err)
	}
	if !strings.Contains(r.stderr, "bad key file") || !strings.Contains(r.stderr, bad) ||
		!strings.Contains(r.stderr, "rkt trust --prefix example.com --remove "+strings.Repeat("ab", 20)) {
		t.Errorf("stderr %q does not name the bad file and the fix", r.stderr)
	}

	// Scoped to another prefix, the bad file is not reported.
	if r := e.rkt(t, "", "trust", "--list", "--prefix", "example.com/app"); r.code != 0 || !strings.Contains(r.stdout, k.Fingerprint) {
		t.Errorf("--prefix example.com/app: rc %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	// The fix works.
	if r := e.rkt(t, "", "trust", "--remove", strings.Repeat("ab", 20), "--prefix", "example.com"); r.code != 0 {
		t.Fatalf("--remove of the bad file: rc %d, stderr %q", r.code, r.stderr)
	}
	if r := e.rkt(t, "", "trust", "--list"); r.code != 0 || r.stderr != "" {
		t.Errorf("after removing: rc %d, stderr %q", r.code, r.stderr)
	}
}
