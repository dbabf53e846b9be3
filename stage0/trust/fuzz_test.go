package trust

import (
	"bytes"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// fuzzNow is the time signatures are checked at: just after the seeds in
// testdata were made, so that fuzzing does not change with the clock.
var fuzzNow = time.Date(2026, 12, 4, 13, 30, 0, 0, time.UTC)

func readTestdata(f testing.TB, pattern string) map[string][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no %s in testdata (%v)", pattern, err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

// FuzzParseSignature feeds ParseSignature arbitrary signature files and
// Verify the ones it accepts, over arbitrary bytes, against a keystore
// trusting the keys of testdata/keys for every image. Seeds are signatures
// made by GnuPG (testdata/signatures) with the bytes they sign.
// Properties:
//   - every refusal matches ErrGarbageSignature or ErrWeakDigest;
//   - an accepted file holds 1 to MaxSignatures signatures, and each one
//     not set aside as weak is a document signature naming its issuer,
//     over a digest that is available and not weak;
//   - Verify refuses with an *UnknownSignerError, a *SignatureError or a
//     *NoAcceptedSignatureError, and accepts only for a trusted key; what
//     it accepts, it refuses once a byte is added to the signed data.
func FuzzParseSignature(f *testing.F) {
	sigs := readTestdata(f, "signatures/*.a*")
	for name, b := range sigs {
		content := "signed.aci"
		if strings.Contains(name, "text") || strings.Contains(name, "clearsigned") {
			content = "signed.txt"
		}
		data, err := os.ReadFile(filepath.Join("testdata", "signatures", content))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, data)
	}
	sig, err := os.ReadFile(filepath.Join("testdata", "signatures", "ed25519.aci.sig"))
	if err != nil {
		f.Fatal(err)
	}
	aci, err := os.ReadFile(filepath.Join("testdata", "signatures", "signed.aci"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sig, aci)

	ks := New("", f.TempDir())
	trusted := map[string]bool{}
	for name, b := range readTestdata(f, "keys/*.pub.*") {
		k, err := readKey(b)
		if err != nil {
			continue // several keys in one file
		}
		dir := prefixPath(ks.LocalDir, "")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, k.Fingerprint), b, 0o644); err != nil {
			f.Fatalf("%s: %v", name, err)
		}
		trusted[k.Fingerprint] = true
	}

	f.Fuzz(func(t *testing.T, data, signed []byte) {
		s, err := ParseSignature(data)
		if err != nil {
			if !errors.Is(err, ErrGarbageSignature) && !errors.Is(err, ErrWeakDigest) {
				t.Fatalf("ParseSignature: untyped refusal: %v", err)
			}
			return
		}
		if s.Len() < 1 || s.Len() > MaxSignatures {
			t.Fatalf("accepted a file of %d signatures", s.Len())
		}
		usable := 0
		for _, e := range s.entries {
			if e.weak != "" {
				continue
			}
			usable++
			switch h := e.pkt.Hash; {
			case h == crypto.MD5, h == crypto.SHA1, h == crypto.RIPEMD160, h == crypto.SHA224, !h.Available():
				t.Fatalf("accepted a signature over %v", h)
			}
			if st := e.pkt.SigType; st != packet.SigTypeBinary && st != packet.SigTypeText {
				t.Fatalf("accepted a signature of type %#x", st)
			}
			if e.pkt.IssuerKeyId == nil && len(e.pkt.IssuerFingerprint) == 0 {
				t.Fatalf("accepted a signature naming no issuer")
			}
		}
		if usable == 0 {
			t.Fatalf("accepted a file with no usable signature")
		}
		v, err := verifyBytes(ks, "example.com/app", s, signed)
		if err != nil {
			var unknown *UnknownSignerError
			var bad *SignatureError
			var none *NoAcceptedSignatureError
			if !errors.As(err, &unknown) && !errors.As(err, &bad) && !errors.As(err, &none) {
				t.Fatalf("Verify: refusal of no documented type: %v", err)
			}
			return
		}
		if !trusted[v.Fingerprint] {
			t.Fatalf("Verify accepted a signature by %s, which is not trusted", v.Fingerprint)
		}
		if _, err := verifyBytes(ks, "example.com/app", s, append(slices.Clip(signed), 0)); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("the signature still verifies once the data changed: %v", err)
		}
	})
}

func verifyBytes(ks *Keystore, name string, s *Signature, data []byte) (*Verdict, error) {
	h := s.NewHash()
	h.Write(data[:len(data)/2])
	h.Write(data[len(data)/2:])
	return ks.Verify(name, s, h, fuzzNow)
}

// FuzzParseKey feeds ParseKey arbitrary key files, as `rkt trust` and key
// discovery receive them. Seeds are keys exported by GnuPG
// (testdata/keys), armored and binary, with subkeys, several user IDs,
// expired, revoked, several in one file and a secret key. Properties: no
// panic; an accepted key has a fingerprint that NormalizeFingerprint keeps
// as it is (it names the key's file in the keystore), holds no secret
// material, is neither revoked nor expired, lists its primary user ID
// first, and reads back the same from the bytes the keystore would write,
// whether those are the bytes given or the key serialized again.
func FuzzParseKey(f *testing.F) {
	for _, b := range readTestdata(f, "keys/*") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKey(data)
		if err != nil {
			return
		}
		if fpr, err := NormalizeFingerprint(k.Fingerprint); err != nil || fpr != k.Fingerprint {
			t.Fatalf("fingerprint %q does not name a key file (%v)", k.Fingerprint, err)
		}
		if k.Entity.PrivateKey != nil {
			t.Fatalf("accepted a secret key")
		}
		if k.Entity.Revoked(time.Now()) || (k.Expires != nil && time.Now().After(*k.Expires)) {
			t.Fatalf("accepted a revoked or expired key")
		}
		if p := k.Entity.PrimaryIdentity(); p != nil && len(k.UserIDs) > 0 && k.UserIDs[0] != p.Name {
			t.Fatalf("user IDs %q do not start with the primary one %q", k.UserIDs, p.Name)
		}
		if !strings.Contains(FingerprintReview(k), groupFingerprint(k.Fingerprint)) {
			t.Fatalf("review does not show the fingerprint: %q", FingerprintReview(k))
		}
		for _, built := range []*Key{k, {Fingerprint: k.Fingerprint, Entity: k.Entity}} {
			stored, err := built.storedForm()
			if err != nil {
				t.Fatalf("serializing an accepted key: %v", err)
			}
			back, err := readKey(stored)
			if err != nil {
				t.Fatalf("the stored form of an accepted key does not read back: %v", err)
			}
			if back.Fingerprint != k.Fingerprint || !slices.Equal(back.UserIDs, k.UserIDs) {
				t.Fatalf("key %s %q reads back as %s %q", k.Fingerprint, k.UserIDs, back.Fingerprint, back.UserIDs)
			}
			if len(built.raw) > 0 && !bytes.Equal(stored, data) {
				t.Fatalf("the keystore would not store the bytes given")
			}
		}
	})
}
