package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rkt/rkt/stage0/trust/trusttest"
)

// TestTrustListNamesBadKeyFiles: one bad file in the trust dir made
// `rkt trust --list` (and every fetch) fail and list nothing. The listing
// now shows every good key, names each bad file with the reason on stderr
// and exits 254, so that a script still gets the keys and CI notices; a
// fetch whose keyring holds the bad file still fails closed, naming it.
func TestTrustListNamesBadKeyFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	good, other := newKey(t), newKey(t)
	prefix := e.prefix()
	e.trustPrefix(prefix+"/app", good)
	sysPath := trusttest.WriteKeyring(t, e.systemConfig, "", other)

	// A file named by another key's fingerprint, and one holding two keys.
	misnamed := e.keyPath(e.localConfig, prefix, other.Fingerprint)
	twoKeys := e.keyPath(e.localConfig, "example.com", good.Fingerprint)
	for p, data := range map[string][]byte{
		misnamed: good.ArmoredPublic(t),
		twoKeys:  append(good.ArmoredPublic(t), other.ArmoredPublic(t)...),
	} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	stdout, stderr := e.fails(254, "trust", "--list")
	for _, want := range []string{good.Fingerprint, other.Fingerprint, sysPath} {
		if !strings.Contains(stdout, want) {
			t.Errorf("trust --list stdout lacks %s:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, misnamed) || strings.Contains(stdout, twoKeys) {
		t.Errorf("trust --list stdout lists a bad file:\n%s", stdout)
	}
	assertMentions(t, "trust --list stderr", stderr, misnamed, "not named by the fingerprint", twoKeys, "exactly one public key",
		"rkt trust --prefix "+prefix+" --remove "+other.Fingerprint)

	// JSON: the good keys on stdout, still one line.
	stdout, _ = e.fails(254, "trust", "--list", "--format=json")
	if strings.Count(strings.TrimSpace(stdout), "\n") != 0 || !strings.Contains(stdout, good.Fingerprint) || !strings.Contains(stdout, other.Fingerprint) {
		t.Errorf("trust --list --format=json printed:\n%s", stdout)
	}
	// A prefix without bad files lists cleanly.
	if only := e.trustList("--prefix", prefix+"/app"); len(only) != 1 || only[0].Fingerprint != good.Fingerprint {
		t.Errorf("trust --list --prefix %s/app = %+v, want the good key", prefix, only)
	}

	// A fetch under the prefix fails closed, naming the file and the fix.
	im := e.newImage("app")
	p := e.writeSigned("app.aci", im.aci, good.Sign(t, im.aci))
	_, stderr = e.fails(254, "fetch", p)
	assertMentions(t, "fetch with a bad key file", stderr, misnamed, "rkt trust --prefix "+prefix+" --remove "+other.Fingerprint)
	e.assertStore()

	// The fix given works; then the fetch does.
	e.ok("trust", "--prefix", prefix, "--remove", other.Fingerprint)
	assertNoFile(t, misnamed)
	if got := e.fetchID(p); got != im.short() {
		t.Errorf("fetch after removing the bad file printed %s, want %s", got, im.short())
	}
	e.ok("trust", "--prefix", "example.com", "--remove", good.Fingerprint)
	if entries := e.trustList(); len(entries) != 2 {
		t.Errorf("trust --list after the fixes = %+v, want the 2 good keys", entries)
	}
}

// TestTrustKeyFileTooLarge: key files were read whole, whatever their size.
func TestTrustKeyFileTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := newKey(t)
	path := e.trustPrefix(e.prefix(), k)
	if err := os.WriteFile(path, append(k.ArmoredPublic(t), bytes.Repeat([]byte("\n"), 1<<20)...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr := e.fails(254, "trust", "--list")
	assertMentions(t, "trust --list stderr", stderr, path, "too large")
	im := e.newImage("app")
	_, stderr = e.fails(254, "fetch", e.writeSigned("app.aci", im.aci, k.Sign(t, im.aci)))
	assertMentions(t, "fetch stderr", stderr, path, "too large")
}

// TestTrustRefusesWeakKey: an RSA-1024 key was trusted like any other, by
// rkt trust and when already in the trust dir.
func TestTrustRefusesWeakKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	weak := newKey(t, trusttest.RSA(1024))
	prefix := e.prefix()
	_, stderr := e.fails(254, "trust", "--prefix", prefix, "--skip-fingerprint-review", e.write("weak.asc", weak.ArmoredPublic(t)))
	assertMentions(t, "trust of a weak key", stderr, weak.Fingerprint, "too weak", "RSA 1024 bits")
	assertNoFile(t, e.keyPath(e.localConfig, prefix, weak.Fingerprint))

	// Put there by hand (or by an older rkt): its signatures are refused.
	path := e.trustPrefix(prefix, weak)
	im := e.newImage("app")
	_, stderr = e.fails(254, "fetch", e.writeSigned("app.aci", im.aci, weak.Sign(t, im.aci)))
	assertMentions(t, "fetch signed by a weak key", stderr, path, "too weak", "rkt trust --prefix "+prefix+" --remove "+weak.Fingerprint)
	e.assertStore()

	// trust --list shows it, with a warning, and succeeds.
	out, stderr, code := rkt(t, e, "trust", "--list")
	if code != 0 || !strings.Contains(out, weak.Fingerprint) {
		t.Errorf("trust --list: exit %d, stdout %q; want 0 and the key", code, out)
	}
	assertMentions(t, "trust --list warning", stderr, weak.Fingerprint, "too weak")
}

// TestFetchSeveralSignatures: a signature file with the old and the new
// key's signatures, as while keys rotate, was refused outright (binary) or
// read for its first signature only (armored).
func TestFetchSeveralSignatures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old, nu := newKey(t), newKey(t)
	e.trustPrefix(e.prefix(), nu)
	im := e.newImage("app")

	both := append(old.Sign(t, im.aci), nu.Sign(t, im.aci)...)
	if got := e.fetchID(e.writeSigned("armored.aci", im.aci, both)); got != im.short() {
		t.Errorf("fetch with old+new armored signatures printed %s", got)
	}
	bin := append(old.Sign(t, im.aci, trusttest.Binary()), nu.Sign(t, im.aci, trusttest.Binary())...)
	if got := e.fetchID(e.writeSigned("binary.aci", im.aci, bin)); got != im.short() {
		t.Errorf("fetch with old+new binary signatures printed %s", got)
	}

	// A bad signature by a trusted key refuses the file, even beside a good one.
	im2 := e.newImage("other")
	e.trustPrefix(e.prefix(), old)
	bad := append(nu.Sign(t, im2.aci), old.Sign(t, im.aci)...)
	_, stderr := e.fails(254, "fetch", e.writeSigned("bad.aci", im2.aci, bad))
	assertMentions(t, "fetch with a bad second signature", stderr, "signature 2 of 2 is bad", old.Fingerprint)
	e.assertStore(im.id)

	// Text after the signature is no longer ignored.
	_, stderr = e.fails(254, "fetch", e.writeSigned("trailing.aci", im2.aci, append(nu.Sign(t, im2.aci), "trailing text\n"...)))
	assertMentions(t, "fetch with trailing text", stderr, "not an OpenPGP detached signature")
}

// gpgKey generates a signing key of algorithm algo (as gpg names it:
// ed25519, rsa1024) in home and returns its fingerprint and armored public
// key.
func gpgKey(t *testing.T, home, uid, algo string) (string, []byte) {
	t.Helper()
	gpg(t, home, "--quick-gen-key", uid, algo, "sign", "never")
	out := gpg(t, home, "--with-colons", "--list-keys", uid)
	var fpr string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
			fpr = strings.ToLower(f[9])
			break
		}
	}
	if fpr == "" {
		t.Fatalf("no fingerprint for %s in:\n%s", uid, out)
	}
	return fpr, gpg(t, home, "--armor", "--export", uid)
}

func gpg(t *testing.T, home string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("gpg", append([]string{"--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestFetchGPGSeveralSignatures: signature files made by gpg itself, with
// two signers in one run and as two runs concatenated.
func TestFetchGPGSeveralSignatures(t *testing.T) {
	t.Parallel()
	home := trusttest.GPGHome(t)
	e := newEnv(t)
	oldFpr, _ := gpgKey(t, home, "Old <old@example.com>", "ed25519")
	newFpr, newPub := gpgKey(t, home, "New <new@example.com>", "ed25519")

	im := e.newImage("app")
	aci := e.write("app.aci", im.aci)
	oneRun := gpg(t, home, "--armor", "-u", oldFpr, "-u", newFpr, "--output", "-", "--detach-sign", aci)
	if n := bytes.Count(oneRun, []byte("BEGIN PGP SIGNATURE")); n != 1 {
		t.Fatalf("gpg -u A -u B wrote %d armored blocks, want 1", n)
	}
	twoRuns := append(gpg(t, home, "--armor", "-u", oldFpr, "--output", "-", "--detach-sign", aci),
		gpg(t, home, "--armor", "-u", newFpr, "--output", "-", "--detach-sign", aci)...)

	// Only the new key is trusted.
	_, stderr := e.fails(254, "fetch", e.writeSigned("one.aci", im.aci, oneRun))
	assertMentions(t, "fetch before trusting", stderr, "unknown key")
	e.ok("trust", "--prefix", e.prefix(), "--skip-fingerprint-review", e.write("new.asc", newPub))
	if got := e.fetchID(e.writeSigned("one.aci", im.aci, oneRun)); got != im.short() {
		t.Errorf("fetch with gpg -u old -u new printed %s", got)
	}
	if got := e.fetchID(e.writeSigned("two.aci", im.aci, twoRuns)); got != im.short() {
		t.Errorf("fetch with two gpg signatures concatenated printed %s", got)
	}
	out := e.ok("image", "check-signature", "--format=json", e.writeSigned("check.aci", im.aci, twoRuns))
	if v := parseVerdict(t, out); !v.Verified || v.Signer.Fingerprint != newFpr {
		t.Errorf("check-signature verdict = %+v, want verified by %s", v, newFpr)
	}
}

// TestGPGRotationFromWeakKey: a signer moving from an RSA-1024 key made by
// gpg to an Ed25519 one signs with both. The weak key is refused by rkt
// trust; its signature does not stop the new key's from being accepted,
// and a keyring holding only the weak key (put there by hand) refuses the
// image, saying why.
func TestGPGRotationFromWeakKey(t *testing.T) {
	t.Parallel()
	home := trusttest.GPGHome(t)
	e := newEnv(t)
	weakFpr, weakPub := gpgKey(t, home, "Weak <weak@example.com>", "rsa1024")
	newFpr, newPub := gpgKey(t, home, "New <new@example.com>", "ed25519")

	_, stderr := e.fails(254, "trust", "--prefix", e.prefix(), "--skip-fingerprint-review", e.write("weak.asc", weakPub))
	assertMentions(t, "trust of a gpg RSA-1024 key", stderr, weakFpr, "too weak", "RSA 1024 bits")

	im := e.newImage("app")
	aci := e.write("app.aci", im.aci)
	sig := gpg(t, home, "--armor", "-u", weakFpr, "-u", newFpr, "--output", "-", "--detach-sign", aci)

	// Only the weak key, put in by hand: refused, with the reason.
	weakPath := e.keyPath(e.localConfig, e.prefix(), weakFpr)
	if err := os.MkdirAll(filepath.Dir(weakPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(weakPath, weakPub, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr = e.fails(254, "fetch", e.writeSigned("signed.aci", im.aci, sig))
	assertMentions(t, "fetch with only the weak key trusted", stderr, weakFpr, "too weak")
	e.assertStore()

	// The new key trusted too: accepted, by the new key.
	e.ok("trust", "--prefix", e.prefix(), "--skip-fingerprint-review", e.write("new.asc", newPub))
	out := e.ok("image", "check-signature", "--format=json", e.writeSigned("check.aci", im.aci, sig))
	if v := parseVerdict(t, out); !v.Verified || v.Signer.Fingerprint != newFpr {
		t.Errorf("check-signature verdict = %+v, want verified by %s", v, newFpr)
	}
	if got := e.fetchID(e.writeSigned("signed.aci", im.aci, sig)); got != im.short() {
		t.Errorf("fetch printed %s, want %s", got, im.short())
	}
}
