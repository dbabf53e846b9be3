package ocisig

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rkt/rkt/stage0/trust"
)

// simpleSetup pushes team/app:1, has skopeo sign it with a gpg key, and
// returns what the tests vary.
type simpleSetup struct {
	reg *testRegistry
	la  *lookaside
	key *gpgKey
	ks  *trust.Keystore
}

func newSimpleSetup(t *testing.T, expire string) *simpleSetup {
	t.Helper()
	s := &simpleSetup{reg: newTestRegistry(t), la: newLookaside(t), key: newGPGKey(t, "Team Signer <team@example.com>", expire)}
	s.ks = trust.New("", t.TempDir())
	s.reg.push(t, "team/app:1")
	s.reg.skopeoSign(t, s.la, s.key, "team/app:1", "")
	return s
}

func (s *simpleSetup) opts() Options { return Options{RegistriesDirs: []string{s.la.regsD}} }

func TestSimpleSigningSkopeo(t *testing.T) {
	s := newSimpleSetup(t, "never")
	// --prefix localhost:<port>/team covers localhost:<port>/team/app.
	s.key.trust(t, s.ks, s.reg.host+"/team")
	req := s.reg.request(t, "team/app:1")
	res, err := Verify(verifyCtx(), s.ks, req, s.opts())
	if err != nil {
		t.Fatalf("verifying a skopeo-signed image: %v", err)
	}
	if res.Format != FormatSimpleSigning || res.Verdict.Fingerprint != s.key.fpr || res.Verdict.Prefix != s.reg.host+"/team" {
		t.Errorf("result %+v %+v, want simple signing by %s for prefix %s/team", res, res.Verdict, s.key.fpr, s.reg.host)
	}
	if !strings.HasSuffix(res.Source, "/team/app@"+strings.Replace(req.ManifestDigest, ":", "=", 1)+"/signature-1") {
		t.Errorf("source %q is not the lookaside layout", res.Source)
	}

	// Pulled by digest: the signature's repository is enough.
	byDigest := req
	byDigest.Reference = s.reg.host + "/team/app@" + req.ManifestDigest
	if _, err := Verify(verifyCtx(), s.ks, byDigest, s.opts()); err != nil {
		t.Errorf("verifying by digest: %v", err)
	}
	// The trust name must be the repository pulled.
	mismatch := req
	mismatch.Name = s.reg.host + "/team"
	if _, err := Verify(verifyCtx(), s.ks, mismatch, s.opts()); err == nil || !strings.Contains(err.Error(), "is not its repository") {
		t.Errorf("verifying with another trust name: %v", err)
	}
	// A root key verifies too.
	ks2 := trust.New("", t.TempDir())
	s.key.trust(t, ks2, "")
	if res, err := Verify(verifyCtx(), ks2, req, s.opts()); err != nil || res.Verdict.Prefix != "" {
		t.Errorf("verifying with a root key: %v", err)
	}
}

func TestSimpleSigningRefusals(t *testing.T) {
	s := newSimpleSetup(t, "1d")
	req := s.reg.request(t, "team/app:1")

	t.Run("no trusted key", func(t *testing.T) {
		_, err := Verify(verifyCtx(), s.ks, req, s.opts())
		var unknown *trust.UnknownSignerError
		if !errors.As(err, &unknown) {
			t.Fatalf("got %v, want an unknown signer", err)
		}
	})

	t.Run("key trusted for another prefix", func(t *testing.T) {
		ks := trust.New("", t.TempDir())
		s.key.trust(t, ks, s.reg.host+"/other")
		// A prefix must end at a path element: team/ap does not cover team/app.
		s.key.trust(t, ks, s.reg.host+"/team/ap")
		_, err := Verify(verifyCtx(), ks, req, s.opts())
		var unknown *trust.UnknownSignerError
		if !errors.As(err, &unknown) || len(unknown.TrustedFor) != 2 {
			t.Fatalf("got %v, want an unknown signer trusted for 2 other prefixes", err)
		}
		if !strings.Contains(err.Error(), "rkt trust --prefix "+req.Name) {
			t.Errorf("refusal %q does not say how to trust the key", err)
		}
	})

	ks := trust.New("", t.TempDir())
	s.key.trust(t, ks, s.reg.host+"/team")

	t.Run("expired key", func(t *testing.T) {
		o := s.opts()
		o.Now = time.Now().Add(72 * time.Hour)
		_, err := Verify(verifyCtx(), ks, req, o)
		if !errors.Is(err, trust.ErrKeyExpired) {
			t.Fatalf("got %v, want an expired key", err)
		}
	})

	t.Run("manifest swapped after signing", func(t *testing.T) {
		// The tag now names another manifest: no signature binds it.
		s.reg.push(t, "team/swapped:1")
		s.reg.skopeoSign(t, s.la, s.key, "team/swapped:1", "")
		signed := s.reg.request(t, "team/swapped:1")
		s.reg.push(t, "team/swapped:1")
		swapped := s.reg.request(t, "team/swapped:1")
		if _, err := Verify(verifyCtx(), ks, swapped, s.opts()); !errors.Is(err, ErrNoSignature) {
			t.Fatalf("got %v, want no signature", err)
		}
		// The old signature copied to the new digest's place binds the
		// old digest.
		copySignature(t, s.la, "team/swapped", signed.ManifestDigest, swapped.ManifestDigest)
		if _, err := Verify(verifyCtx(), ks, swapped, s.opts()); !errors.Is(err, ErrDigestMismatch) {
			t.Fatalf("got %v, want a digest mismatch", err)
		}
	})

	t.Run("tag moved to another signed digest", func(t *testing.T) {
		s.reg.push(t, "team/app:2")
		s.reg.skopeoSign(t, s.la, s.key, "team/app:2", "")
		img2 := s.reg.request(t, "team/app:2")
		moved := img2
		moved.Reference = s.reg.host + "/team/app:1" // :1 now points at :2's image
		if _, err := Verify(verifyCtx(), ks, moved, s.opts()); !errors.Is(err, ErrIdentityMismatch) {
			t.Fatalf("got %v, want an identity mismatch", err)
		}
	})

	t.Run("signed for another reference", func(t *testing.T) {
		s.reg.push(t, "team/web:1")
		s.reg.skopeoSign(t, s.la, s.key, "team/web:1", s.reg.host+"/team/db:1")
		if _, err := Verify(verifyCtx(), ks, s.reg.request(t, "team/web:1"), s.opts()); !errors.Is(err, ErrIdentityMismatch) {
			t.Fatalf("got %v, want an identity mismatch", err)
		}
	})

	t.Run("bad bytes", func(t *testing.T) {
		s.reg.push(t, "team/bad:1")
		s.reg.skopeoSign(t, s.la, s.key, "team/bad:1", "")
		r := s.reg.request(t, "team/bad:1")
		p := sigPath(s.la, "team/bad", r.ManifestDigest, 1)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// skopeo's message is compressed, so a flipped bit may break the
		// compressed stream instead of the signature. Flip one near the
		// end (inside the signature packet) that still leaves a message
		// that parses: that is a bad signature, and nothing else.
		bad := corruptParsable(t, data)
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = Verify(verifyCtx(), ks, r, s.opts())
		if !errors.Is(err, trust.ErrBadSignature) {
			t.Fatalf("got %v, want a bad signature", err)
		}
	})

	t.Run("garbage", func(t *testing.T) {
		s.reg.push(t, "team/junk:1")
		r := s.reg.request(t, "team/junk:1")
		p := sigPath(s.la, "team/junk", r.ManifestDigest, 1)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(`{"critical":{}}`), 0o644)
		if _, err := Verify(verifyCtx(), ks, r, s.opts()); !errors.Is(err, trust.ErrGarbageSignature) {
			t.Fatalf("got %v, want a garbage signature", err)
		}
	})
}

func sigPath(l *lookaside, repoPath, digest string, n int) string {
	return filepath.Join(l.dir, repoPath+"@"+strings.Replace(digest, ":", "=", 1), "signature-"+string(rune('0'+n)))
}

func copySignature(t *testing.T, l *lookaside, repoPath, from, to string) {
	t.Helper()
	data, err := os.ReadFile(sigPath(l, repoPath, from, 1))
	if err != nil {
		t.Fatal(err)
	}
	dst := sigPath(l, repoPath, to, 1)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// corruptParsable flips one bit in the last bytes of a signed message,
// choosing the first position from the end whose result still parses as a
// signed message.
func corruptParsable(t *testing.T, data []byte) []byte {
	t.Helper()
	for i := len(data) - 3; i > len(data)-200 && i > 0; i-- {
		bad := bytes.Clone(data)
		bad[i] ^= 0x40
		if _, _, err := trust.ParseSignedMessage(bad); err == nil {
			return bad
		}
	}
	t.Fatal("no bit of the message's last 200 bytes can be flipped leaving it parsable")
	return nil
}
