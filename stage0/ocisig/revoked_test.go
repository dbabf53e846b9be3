package ocisig

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rkt/rkt/stage0/trust"
)

// writeKeyFile puts a key file where rkt trust would, without the checks
// rkt trust makes when a key is added: a key revoked, or judged weak, after
// it was trusted sits in the keystore like this.
func writeKeyFile(t *testing.T, ks *trust.Keystore, prefix, fpr string, data []byte) {
	t.Helper()
	dir := filepath.Join(ks.LocalDir, "trustedkeys", "prefix.d", filepath.FromSlash(prefix))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fpr), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A key revoked after it signed, and a weak key, are refused as for ACIs.
func TestSimpleSigningRevokedAndWeakKeys(t *testing.T) {
	t.Run("revoked", func(t *testing.T) {
		s := newSimpleSetup(t, "never")
		req := s.reg.request(t, "team/app:1")
		// gpg keeps a revocation certificate of each key it makes, its
		// armor line guarded by a leading colon; import it.
		rev, err := os.ReadFile(filepath.Join(s.key.home, "openpgp-revocs.d", strings.ToUpper(s.key.fpr)+".rev"))
		if err != nil {
			t.Fatal(err)
		}
		rev = bytes.Replace(rev, []byte(":-----BEGIN"), []byte("-----BEGIN"), 1)
		revPath := filepath.Join(t.TempDir(), "rev.asc")
		if err := os.WriteFile(revPath, rev, 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, nil, "gpg", "--homedir", s.key.home, "--batch", "--import", revPath)
		pub := run(t, nil, "gpg", "--homedir", s.key.home, "--batch", "--armor", "--export", s.key.fpr)
		writeKeyFile(t, s.ks, s.reg.host+"/team", s.key.fpr, []byte(pub))
		if _, err := Verify(verifyCtx(), s.ks, req, s.opts()); !errors.Is(err, trust.ErrKeyRevoked) {
			t.Fatalf("got %v, want a revoked key", err)
		}
	})

	t.Run("weak", func(t *testing.T) {
		reg, la := newTestRegistry(t), newLookaside(t)
		key := newGPGKeyAlgo(t, "Weak <weak@example.com>", "rsa1024", "never")
		reg.push(t, "team/app:1")
		reg.skopeoSign(t, la, key, "team/app:1", "")
		ks := trust.New("", t.TempDir())
		writeKeyFile(t, ks, reg.host+"/team", key.fpr, key.pub)
		_, err := Verify(verifyCtx(), ks, reg.request(t, "team/app:1"), Options{RegistriesDirs: []string{la.regsD}})
		if !errors.Is(err, trust.ErrWeakKey) {
			t.Fatalf("got %v, want a weak key", err)
		}
	})
}
