package tests

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/rkt/rkt/stage0/trust/trusttest"
	"github.com/rkt/rkt/store/storetest"
)

// keyPath is where rkt trust stores a local key for prefix ("" = root).
func (e *env) keyPath(dir, prefix, fpr string) string {
	if prefix == "" {
		return filepath.Join(dir, "trustedkeys", "root.d", fpr)
	}
	return filepath.Join(dir, "trustedkeys", "prefix.d", prefix, fpr)
}

// keyFingerprint parses an armored or binary public key file.
func keyFingerprint(t *testing.T, data []byte) string {
	t.Helper()
	el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	if err != nil {
		el, err = openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil || len(el) != 1 {
		t.Fatalf("parsing a stored key: %d keys, %v", len(el), err)
	}
	return hex.EncodeToString(el[0].PrimaryKey.Fingerprint)
}

func assertFile(t *testing.T, p string, nonEmpty bool) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatalf("expected %s: %v", p, err)
	}
	if nonEmpty && fi.Size() == 0 {
		t.Fatalf("%s is empty, want the key", p)
	}
}

func assertNoFile(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); err == nil {
		t.Fatalf("%s exists, want it absent", p)
	} else if !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

func TestTrustAddFromFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := newKey(t)
	keyFile := e.write("key.gpg", k.ArmoredPublic(t))
	prefix := e.name("app")
	want := e.keyPath(e.localConfig, prefix, k.Fingerprint)

	// No terminal and no --skip-fingerprint-review: refuse and say how.
	_, stderr := e.fails(254, "trust", "--prefix", prefix, keyFile)
	assertMentions(t, "refusal without a terminal", stderr, "--skip-fingerprint-review")
	assertNoFile(t, want)

	_, stderr = e.fails(0, "trust", "--prefix", prefix, "--skip-fingerprint-review", keyFile)
	assertMentions(t, "trust output", stderr, fmt.Sprintf("Added key for prefix %q at %q", prefix, want))
	assertFile(t, want, true)

	// The stored key is the one given.
	data, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if fpr := keyFingerprint(t, data); fpr != k.Fingerprint {
		t.Errorf("stored key has fingerprint %s, want %s", fpr, k.Fingerprint)
	}

	// Trusting it again is a quiet success that says so.
	stdout, stderr := e.fails(0, "trust", "--prefix", prefix, "--skip-fingerprint-review", keyFile)
	assertMentions(t, "re-trust output", strings.ToLower(stdout+stderr), "already")

	// The key verifies images under the prefix.
	im := e.newImage("app")
	p := e.writeSigned("app.aci", im.aci, k.Sign(t, im.aci))
	if got := e.fetchID(p); got != im.short() {
		t.Errorf("fetch printed %s, want %s", got, im.short())
	}
}

func TestTrustFromHTTPSURL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := newKey(t)
	e.site.serveFile("key.gpg", k.ArmoredPublic(t))
	prefix := e.name("app")
	e.ok("trust", "--prefix", prefix, "--skip-fingerprint-review", e.site.url("key.gpg"))
	assertFile(t, e.keyPath(e.localConfig, prefix, k.Fingerprint), true)
}

func TestTrustRefusesHTTPWithoutFlag(t *testing.T) {
	t.Parallel()
	if servers.httpPort == 0 {
		t.Skip("port 80 could not be bound, so there is no plain HTTP server")
	}
	e := newEnv(t)
	k := newKey(t)
	e.site.serveFile("key.gpg", k.ArmoredPublic(t))
	prefix := e.name("app")
	httpURL := "http://localhost/" + e.slug + "/key.gpg"
	want := e.keyPath(e.localConfig, prefix, k.Fingerprint)

	_, stderr := e.fails(254, "trust", "--prefix", prefix, "--skip-fingerprint-review", httpURL)
	assertMentions(t, "http refusal", stderr, "--insecure-allow-http")
	assertNoFile(t, want)
	if n := e.site.requests("key.gpg"); n != 0 {
		t.Errorf("the key was downloaded %d times over plain HTTP before the refusal", n)
	}

	e.ok("trust", "--prefix", prefix, "--skip-fingerprint-review", "--insecure-allow-http", httpURL)
	assertFile(t, want, true)
}

func TestTrustDiscovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := newKey(t)
	e.site.serveFile("pubkeys.gpg", k.ArmoredPublic(t))
	e.site.discoverKeys(e.prefix(), e.site.url("pubkeys.gpg"))
	prefix := e.name("app")

	e.ok("trust", "--prefix", prefix, "--skip-fingerprint-review")
	assertFile(t, e.keyPath(e.localConfig, prefix, k.Fingerprint), true)
	if n := e.site.requests("pubkeys.gpg"); n != 1 {
		t.Errorf("the discovered key was requested %d times, want 1", n)
	}
}

func TestTrustDiscoveryOverHTTP(t *testing.T) {
	t.Parallel()
	if servers.httpPort == 0 {
		t.Skip("port 80 could not be bound, so there is no plain HTTP server")
	}
	e := newEnv(t)
	k := newKey(t)
	e.site.serveFile("pubkeys.gpg", k.ArmoredPublic(t))
	e.site.discoverKeys(e.prefix(), "http://localhost/"+e.slug+"/pubkeys.gpg")
	e.site.discoveryHTTPOnly = true
	prefix := e.name("app")
	want := e.keyPath(e.localConfig, prefix, k.Fingerprint)

	e.fails(254, "trust", "--prefix", prefix, "--skip-fingerprint-review")
	assertNoFile(t, want)
	if n := e.site.requests("pubkeys.gpg"); n != 0 {
		t.Errorf("the key was fetched over plain HTTP %d times without --insecure-allow-http", n)
	}

	e.ok("trust", "--prefix", prefix, "--skip-fingerprint-review", "--insecure-allow-http")
	assertFile(t, want, true)
}

func TestTrustRoot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := newKey(t)
	keyFile := e.write("key.gpg", k.ArmoredPublic(t))
	e.ok("trust", "--root", "--skip-fingerprint-review", keyFile)
	assertFile(t, e.keyPath(e.localConfig, "", k.Fingerprint), true)

	// A root key verifies any name.
	im := e.newImage("anything")
	p := e.writeSigned("any.aci", im.aci, k.Sign(t, im.aci))
	e.fetchID(p)

	list := e.ok("trust", "--list", "--no-legend")
	if !strings.Contains(list, "(root)") || !strings.Contains(list, k.Fingerprint) {
		t.Errorf("trust --list does not show the root key:\n%s", list)
	}
}

// trustListEntry is one object of `rkt trust --list --format=json`.
type trustListEntry struct {
	Prefix      string   `json:"prefix"`
	Root        bool     `json:"root"`
	Fingerprint string   `json:"fingerprint"`
	UserIDs     []string `json:"userIDs"`
	Created     *string  `json:"created"`
	Expires     *string  `json:"expires"`
	Scope       string   `json:"scope"`
	Path        string   `json:"path"`
}

func (e *env) trustList(args ...string) []trustListEntry {
	e.t.Helper()
	out := e.ok(append([]string{"trust", "--list", "--format=json"}, args...)...)
	if strings.Count(strings.TrimSpace(out), "\n") != 0 {
		e.t.Errorf("trust --list --format=json printed more than one line:\n%s", out)
	}
	var entries []trustListEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		e.t.Fatalf("trust --list --format=json printed %q: %v", out, err)
	}
	return entries
}

func TestTrustListAndRemove(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k1, k2 := newKey(t), newKey(t)
	pa, pb := e.name("a"), e.name("b")
	e.ok("trust", "--prefix", pa, "--skip-fingerprint-review", e.write("k1.gpg", k1.ArmoredPublic(t)))
	e.ok("trust", "--prefix", pb, "--skip-fingerprint-review", e.write("k2.gpg", k2.ArmoredPublic(t)))

	// Table.
	table := e.ok("trust", "--list")
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("trust --list printed %d lines, want a header and 2 keys:\n%s", len(lines), table)
	}
	for _, col := range []string{"PREFIX", "FINGERPRINT", "USER ID", "EXPIRES", "SCOPE", "PATH"} {
		if !strings.Contains(lines[0], col) {
			t.Errorf("trust --list header %q lacks %s", lines[0], col)
		}
	}
	if !strings.Contains(table, pa) || !strings.Contains(table, k1.Fingerprint) ||
		!strings.Contains(table, pb) || !strings.Contains(table, k2.Fingerprint) {
		t.Errorf("trust --list misses a key:\n%s", table)
	}
	noLegend := e.ok("trust", "--list", "--no-legend")
	if strings.Contains(noLegend, "FINGERPRINT") || strings.Count(noLegend, "\n") != 2 {
		t.Errorf("trust --list --no-legend printed:\n%s", noLegend)
	}

	// JSON.
	entries := e.trustList()
	if len(entries) != 2 {
		t.Fatalf("trust --list --format=json shows %d keys, want 2: %+v", len(entries), entries)
	}
	byFpr := map[string]trustListEntry{}
	for _, en := range entries {
		byFpr[en.Fingerprint] = en
	}
	got := byFpr[k1.Fingerprint]
	if got.Prefix != pa || got.Root || got.Scope != "local" ||
		got.Path != e.keyPath(e.localConfig, pa, k1.Fingerprint) ||
		len(got.UserIDs) != 1 || got.UserIDs[0] != k1.UserID || got.Created == nil {
		t.Errorf("trust --list entry for k1 = %+v", got)
	}

	// --prefix filters.
	if only := e.trustList("--prefix", pb); len(only) != 1 || only[0].Fingerprint != k2.Fingerprint {
		t.Errorf("trust --list --prefix %s = %+v, want k2 only", pb, only)
	}

	// Remove one.
	stdout, stderr := e.fails(0, "trust", "--remove", k1.Fingerprint, "--prefix", pa)
	assertMentions(t, "trust --remove output", stdout+stderr, k1.Fingerprint)
	assertNoFile(t, e.keyPath(e.localConfig, pa, k1.Fingerprint))
	if left := e.trustList(); len(left) != 1 || left[0].Fingerprint != k2.Fingerprint {
		t.Errorf("after --remove, trust --list = %+v, want k2 only", left)
	}

	// Removing it again fails: nothing to remove.
	e.fails(254, "trust", "--remove", k1.Fingerprint, "--prefix", pa)

	// Images signed by the removed key are refused again.
	im := e.newImage("a")
	e.fails(254, "fetch", e.writeSigned("a.aci", im.aci, k1.Sign(t, im.aci)))
	e.assertStore()
}

func TestTrustSystemKeyHonouredAndMasked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := newKey(t)
	prefix := e.name("app")
	sysPath := trusttest.WriteKeyring(t, e.systemConfig, prefix, k)

	im := e.newImage("app")
	p := e.writeSigned("app.aci", im.aci, k.Sign(t, im.aci))
	if got := e.fetchID(p); got != im.short() {
		t.Fatalf("fetch with a system key printed %s, want %s", got, im.short())
	}

	entries := e.trustList()
	if len(entries) != 1 || entries[0].Scope != "system" || entries[0].Path != sysPath || entries[0].Prefix != prefix {
		t.Fatalf("trust --list = %+v, want the one system key at %s", entries, sysPath)
	}

	// Removing a system key masks it with an empty local file and leaves the
	// system dir alone.
	e.ok("trust", "--remove", k.Fingerprint, "--prefix", prefix)
	mask := e.keyPath(e.localConfig, prefix, k.Fingerprint)
	fi, err := os.Stat(mask)
	if err != nil || fi.Size() != 0 {
		t.Fatalf("removing a system key: want a zero-byte mask at %s, got %v, %v", mask, fi, err)
	}
	assertFile(t, sysPath, true)
	if left := e.trustList(); len(left) != 0 {
		t.Errorf("a masked key is still listed: %+v", left)
	}

	// The masked key no longer verifies anything.
	im2 := e.newImage("app", storetest.File{Name: "etc/other", Body: []byte("other\n")})
	_, stderr := e.fails(254, "fetch", e.writeSigned("app2.aci", im2.aci, k.Sign(t, im2.aci)))
	assertMentions(t, "refusal with a masked key", stderr, im2.name)
	e.assertStore(im.id)
}
