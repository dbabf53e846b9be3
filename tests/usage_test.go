package tests

import (
	"strings"
	"testing"
	"time"

	"github.com/rkt/rkt/stage0/trust/trusttest"
)

// TestBadUsage: wrong arguments and flags exit 254, as in rkt 1.30, and say
// what was wrong.
func TestBadUsage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		args    []string
		mention string
	}{
		{[]string{"fetch"}, ""},
		{[]string{"fetch", "--no-such-flag", "x"}, "no-such-flag"},
		{[]string{"--insecure-options=bogus", "fetch", "x"}, "bogus"},
		{[]string{"image", "rm"}, ""},
		{[]string{"image", "export", "sha512-00"}, ""},
		{[]string{"image", "cat-manifest"}, ""},
		{[]string{"image", "list", "extra-arg"}, ""},
		{[]string{"no-such-command"}, "no-such-command"},
	}
	for _, c := range cases {
		out, stderr := e.fails(254, c.args...)
		if strings.Contains(out, "sha512-") {
			t.Errorf("rkt %v printed a result on stdout: %q", c.args, out)
		}
		if stderr == "" {
			t.Errorf("rkt %v exited 2 without saying why", c.args)
		}
		if c.mention != "" {
			assertMentions(t, "usage error", stderr, c.mention)
		}
	}
	// Usage errors never create the store.
	if ents := e.entries(""); len(ents) != 0 {
		t.Errorf("bad usage created %v in the data dir", ents)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.ok("version")
	assertMentions(t, "rkt version", out, "rkt Version:", "appc Version: 0.8.11", "Go Version:", "Go OS/Arch:")
}

// TestTrustRefusesExpiredAndRevokedKeys: rkt trust will not store a key
// that can no longer verify anything.
func TestTrustRefusesExpiredAndRevokedKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for name, k := range map[string]*trusttest.Key{
		"expired": newKey(t, trusttest.WithExpiry(-time.Hour)),
		"revoked": newKey(t, trusttest.Revoked()),
	} {
		keyFile := e.write(name+".gpg", k.ArmoredPublic(t))
		_, stderr := e.fails(254, "trust", "--prefix", e.prefix(), "--skip-fingerprint-review", keyFile)
		assertMentions(t, "refusal of an "+name+" key", stderr, name)
		assertNoFile(t, e.keyPath(e.localConfig, e.prefix(), k.Fingerprint))
	}
}
