package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rkt/rkt/stage0/trust/trusttest"
)

func writeKeyFile(t *testing.T, k *trusttest.Key) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.asc")
	if err := os.WriteFile(p, k.ArmoredPublic(t), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func prefixKeyPath(root, prefix, fp string) string {
	return filepath.Join(root, "trustedkeys", "prefix.d", filepath.FromSlash(prefix), fp)
}

func TestTrustAddFromFile(t *testing.T) {
	e := newEnv(t)
	k := trusttest.NewKey(t, "App Signer <app@example.com>")
	keyFile := writeKeyFile(t, k)
	want := prefixKeyPath(e.local, "example.com/app", k.Fingerprint)

	// No terminal and no --skip-fingerprint-review: refused, nothing stored.
	r := e.rkt(t, "", "trust", "--prefix", "example.com/app", keyFile)
	if r.code != 254 || !strings.HasPrefix(r.stderr, "trust: ") || !strings.Contains(r.stderr, "--skip-fingerprint-review") {
		t.Fatalf("without a tty: rc %d, stderr %q; want 254 naming --skip-fingerprint-review", r.code, r.stderr)
	}
	if _, err := os.Stat(want); !os.IsNotExist(err) {
		t.Fatalf("key stored despite the refusal: %v", err)
	}

	r = e.rkt(t, "", "trust", "--prefix", "example.com/app", "--skip-fingerprint-review", keyFile)
	if r.code != 0 {
		t.Fatalf("rc %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, `Added key for prefix "example.com/app" at "`+want+`"`) {
		t.Errorf("stderr %q does not report the added key", r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
	if data, err := os.ReadFile(want); err != nil || len(data) == 0 {
		t.Fatalf("key file %s: %v", want, err)
	}

	// Trusting it again is a quiet success.
	r = e.rkt(t, "", "trust", "--prefix", "example.com/app", "--skip-fingerprint-review", keyFile)
	if r.code != 0 || !strings.Contains(r.stderr, "already trusted") {
		t.Errorf("re-trust: rc %d, stderr %q; want 0 and 'already trusted'", r.code, r.stderr)
	}
}

func TestTrustFingerprintReview(t *testing.T) {
	e := newEnv(t)
	k := trusttest.NewKey(t, "Root Signer <root@example.com>")
	keyFile := writeKeyFile(t, k)
	want := filepath.Join(e.local, "trustedkeys", "root.d", k.Fingerprint)
	tty := true

	r := e.rktTTY(t, &tty, "no\n", "trust", "--root", keyFile)
	if r.code != 0 {
		t.Fatalf("declined review: rc %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "Are you sure you want to trust this key (yes/no)?") ||
		!strings.Contains(r.stderr, "gpg key fingerprint is: "+strings.ToUpper(k.Fingerprint[:4])) ||
		!strings.Contains(r.stderr, "\tRoot Signer <root@example.com>") {
		t.Errorf("review prompt %q lacks the question, fingerprint or user id", r.stderr)
	}
	if _, err := os.Stat(want); !os.IsNotExist(err) {
		t.Fatalf("declined key stored: %v", err)
	}

	r = e.rktTTY(t, &tty, "yes\n", "trust", "--root", keyFile)
	if r.code != 0 || !strings.Contains(r.stderr, `Added root key at "`+want+`"`) {
		t.Fatalf("accepted review: rc %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(want); err != nil {
		t.Fatal(err)
	}
}

func TestTrustUsage(t *testing.T) {
	e := newEnv(t)
	keyFile := writeKeyFile(t, trusttest.NewKey(t, "U <u@example.com>"))
	for _, args := range [][]string{
		{"trust", "--root"},
		{"trust", keyFile},
		{"trust"},
		{"trust", "--root", "--prefix", "example.com/x", keyFile},
		{"trust", "--list", "--remove", "abc"},
		{"trust", "--remove"},
		{"trust", "--list", "--format=xml"},
		{"trust", "--prefix", "Not A Name!", keyFile},
	} {
		if r := e.rkt(t, "", args...); r.code != 254 || !strings.HasPrefix(r.stderr, "trust: ") {
			t.Errorf("%q: rc %d, stderr %q; want 254", args, r.code, r.stderr)
		}
	}
}

func TestTrustFromHTTPS(t *testing.T) {
	e := newEnv(t)
	k := trusttest.NewKey(t, "Web <web@example.com>")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(k.ArmoredPublic(t))
	}))
	defer srv.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(k.ArmoredPublic(t))
	}))
	defer plain.Close()

	// The test server's certificate is not in the system roots.
	r := e.rkt(t, "", "trust", "--prefix", "example.com/web", "--skip-fingerprint-review", srv.URL+"/key.asc")
	if r.code != 254 {
		t.Fatalf("untrusted certificate: rc %d, stderr %q; want 254", r.code, r.stderr)
	}
	// Plain http needs --insecure-allow-http, even with --insecure-options=http.
	r = e.rkt(t, "", "--insecure-options=http", "trust", "--prefix", "example.com/web", "--skip-fingerprint-review", plain.URL+"/key.asc")
	if r.code != 254 || !strings.Contains(r.stderr, "--insecure-allow-http") {
		t.Fatalf("plain http without --insecure-allow-http: rc %d, stderr %q; want 254 naming the flag", r.code, r.stderr)
	}
	r = e.rkt(t, "", "trust", "--prefix", "example.com/web", "--insecure-allow-http", "--skip-fingerprint-review", plain.URL+"/key.asc")
	if r.code != 0 {
		t.Fatalf("plain http with --insecure-allow-http: rc %d, stderr %q", r.code, r.stderr)
	}
	k2 := trusttest.NewKey(t, "Web2 <web2@example.com>")
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(k2.ArmoredPublic(t)) })
	r = e.rkt(t, "", "--insecure-options=tls", "trust", "--prefix", "example.com/web", "--skip-fingerprint-review", srv.URL+"/key.asc")
	if r.code != 0 {
		t.Fatalf("https with --insecure-options=tls: rc %d, stderr %q", r.code, r.stderr)
	}
	for _, fp := range []string{k.Fingerprint, k2.Fingerprint} {
		if _, err := os.Stat(prefixKeyPath(e.local, "example.com/web", fp)); err != nil {
			t.Error(err)
		}
	}
}

func TestTrustListAndRemove(t *testing.T) {
	e := newEnv(t)
	sysKey := trusttest.NewKey(t, "System <sys@example.com>")
	rootKey := trusttest.NewKey(t, "Root <root@example.com>", trusttest.WithExpiry(48*time.Hour))
	localKey := trusttest.NewKey(t, "Local <local@example.com>")
	sysPath := trusttest.WriteKeyring(t, e.system, "example.com/app", sysKey)
	rootPath := trusttest.WriteKeyring(t, e.local, "", rootKey)
	localPath := trusttest.WriteKeyring(t, e.local, "example.com/app", localKey)
	otherPath := trusttest.WriteKeyring(t, e.local, "example.org", localKey)

	r := e.rkt(t, "", "trust", "--list", "--format=json")
	if r.code != 0 {
		t.Fatalf("rc %d: %s", r.code, r.stderr)
	}
	var keys []struct {
		Prefix      string     `json:"prefix"`
		Root        bool       `json:"root"`
		Fingerprint string     `json:"fingerprint"`
		UserIDs     []string   `json:"userIDs"`
		Created     time.Time  `json:"created"`
		Expires     *time.Time `json:"expires"`
		Scope       string     `json:"scope"`
		Path        string     `json:"path"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &keys); err != nil || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("JSON %q: %v", r.stdout, err)
	}
	byPath := map[string]int{}
	for i, k := range keys {
		byPath[k.Path] = i
	}
	if len(keys) != 4 {
		t.Fatalf("got %d keys, want 4: %s", len(keys), r.stdout)
	}
	if i, ok := byPath[rootPath]; !ok || !keys[i].Root || keys[i].Expires == nil || keys[i].Scope != "local" || keys[i].Fingerprint != rootKey.Fingerprint {
		t.Errorf("root key entry %+v", keys[byPath[rootPath]])
	}
	if i, ok := byPath[sysPath]; !ok || keys[i].Root || keys[i].Prefix != "example.com/app" || keys[i].Scope != "system" ||
		keys[i].Expires != nil || len(keys[i].UserIDs) != 1 || keys[i].UserIDs[0] != "System <sys@example.com>" {
		t.Errorf("system key entry %+v", keys[byPath[sysPath]])
	}

	r = e.rkt(t, "", "trust", "--list", "--prefix", "example.com/app", "--no-legend")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if r.code != 0 || len(lines) != 2 {
		t.Fatalf("--list --prefix: rc %d, stdout %q; want the 2 keys of the prefix", r.code, r.stdout)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "example.com/app\t") {
			t.Errorf("line %q is not for example.com/app", l)
		}
	}

	// A system key is masked by an empty file in the local dir.
	r = e.rkt(t, "", "trust", "--remove", strings.ToUpper(sysKey.Fingerprint))
	if r.code != 0 {
		t.Fatalf("remove system key: rc %d: %s", r.code, r.stderr)
	}
	mask := prefixKeyPath(e.local, "example.com/app", sysKey.Fingerprint)
	if fi, err := os.Stat(mask); err != nil || fi.Size() != 0 {
		t.Errorf("mask %s: %v; want a zero-byte file", mask, err)
	}
	if _, err := os.Stat(sysPath); err != nil {
		t.Errorf("system key file was touched: %v", err)
	}

	// Without --prefix, a fingerprint is removed from every prefix.
	r = e.rkt(t, "", "trust", "--remove", localKey.Fingerprint)
	if r.code != 0 || strings.Count(r.stderr, "Removed key") != 2 {
		t.Fatalf("remove local key: rc %d, stderr %q; want two removals", r.code, r.stderr)
	}
	for _, p := range []string{localPath, otherPath} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still exists: %v", p, err)
		}
	}

	r = e.rkt(t, "", "trust", "--list", "--no-legend")
	if strings.Count(r.stdout, "\n") != 1 || !strings.HasPrefix(r.stdout, "(root)\t") {
		t.Errorf("after removals: %q, want only the root key", r.stdout)
	}

	r = e.rkt(t, "", "trust", "--remove", "--root", localKey.Fingerprint)
	if r.code != 254 || !strings.Contains(r.stderr, "rkt trust --list") {
		t.Errorf("removing an absent key: rc %d, stderr %q; want 254", r.code, r.stderr)
	}
}
