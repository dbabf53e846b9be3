package trusttest

import (
	"bytes"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

var payload = []byte("an image's bytes\n")

// check verifies sig over payload against the public half of k, read back
// from its armored form as a verifier would.
func check(t *testing.T, k *Key, data, sig []byte) (*packet.Signature, error) {
	t.Helper()
	ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(k.ArmoredPublic(t)))
	if err != nil {
		t.Fatalf("reading back armored key: %v", err)
	}
	if len(ring) != 1 {
		t.Fatalf("armored key holds %d entities, want 1", len(ring))
	}
	if ring[0].PrivateKey != nil {
		t.Fatalf("armored public key carries private material")
	}
	block, err := armor.Decode(bytes.NewReader(sig))
	if err != nil {
		t.Fatalf("decoding armored signature: %v", err)
	}
	s, _, err := openpgp.VerifyDetachedSignature(ring, bytes.NewReader(data), block.Body, nil)
	return s, err
}

func parseSig(t *testing.T, armored []byte) *packet.Signature {
	t.Helper()
	block, err := armor.Decode(bytes.NewReader(armored))
	if err != nil {
		t.Fatalf("decoding armored signature: %v", err)
	}
	p, err := packet.Read(block.Body)
	if err != nil {
		t.Fatalf("reading signature packet: %v", err)
	}
	s, ok := p.(*packet.Signature)
	if !ok {
		t.Fatalf("packet is %T, want signature", p)
	}
	return s
}

func TestNewKeyDefaults(t *testing.T) {
	start := time.Now()
	k := NewKey(t, "Example Signer <signer@example.com>")
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("NewKey took %v", d)
	}
	if len(k.Fingerprint) != 40 {
		t.Errorf("fingerprint %q: want 40 hex digits", k.Fingerprint)
	}
	if k.UserID != "Example Signer <signer@example.com>" {
		t.Errorf("UserID = %q", k.UserID)
	}
	if k.Entity.PrimaryKey.PubKeyAlgo != packet.PubKeyAlgoEdDSA {
		t.Errorf("algorithm = %v, want EdDSA", k.Entity.PrimaryKey.PubKeyAlgo)
	}
	sig := k.Sign(t, payload)
	s, err := check(t, k, payload, sig)
	if err != nil {
		t.Fatalf("verifying a default signature: %v", err)
	}
	if *s.IssuerKeyId == k.Entity.PrimaryKey.KeyId {
		t.Errorf("default signature made by the primary key, want the signing subkey")
	}
	if s.Hash != crypto.SHA512 {
		t.Errorf("hash = %v, want SHA-512", s.Hash)
	}
	if _, err := check(t, k, []byte("other bytes"), sig); err == nil {
		t.Errorf("signature verified over other data")
	}
	other := NewKey(t, "Other")
	if _, err := check(t, other, payload, sig); !errors.Is(err, pgperrors.ErrUnknownIssuer) {
		t.Errorf("verifying with another key: err = %v, want unknown issuer", err)
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		sigOpts []SigOption
		wantErr error
		primary bool
	}{
		{name: "valid", wantErr: nil},
		{name: "expires later", opts: []Option{WithExpiry(time.Hour)}, wantErr: nil},
		{name: "expired key", opts: []Option{WithExpiry(-time.Minute)}, wantErr: pgperrors.ErrKeyExpired},
		{name: "revoked key", opts: []Option{Revoked()}, wantErr: pgperrors.ErrKeyRevoked},
		{name: "primary only", opts: []Option{SignWithPrimaryOnly()}, primary: true},
		{name: "sign with primary", sigOpts: []SigOption{SignWithPrimary()}, primary: true},
		{name: "signature expired", sigOpts: []SigOption{SigExpired()}, wantErr: pgperrors.ErrSignatureExpired},
		{name: "rsa", opts: []Option{RSA(2048)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := NewKey(t, "Opt <opt@example.com>", tt.opts...)
			s, err := check(t, k, payload, k.Sign(t, payload, tt.sigOpts...))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("verify: err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			isPrimary := *s.IssuerKeyId == k.Entity.PrimaryKey.KeyId
			if isPrimary != tt.primary {
				t.Errorf("signed by primary = %v, want %v", isPrimary, tt.primary)
			}
		})
	}
}

func TestPrimaryOnlyHasNoSigningSubkey(t *testing.T) {
	k := NewKey(t, "P", SignWithPrimaryOnly())
	for _, sk := range k.Entity.Subkeys {
		if sk.Sig.FlagSign {
			t.Errorf("subkey %X can sign", sk.PublicKey.KeyId)
		}
	}
}

func TestCreatedAt(t *testing.T) {
	when := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	k := NewKey(t, "Old", CreatedAt(when))
	if !k.Entity.PrimaryKey.CreationTime.Equal(when) {
		t.Errorf("created %v, want %v", k.Entity.PrimaryKey.CreationTime, when)
	}
	// Expiry is relative to now even for an old key.
	k = NewKey(t, "Old", CreatedAt(when), WithExpiry(-time.Hour))
	if _, err := check(t, k, payload, k.Sign(t, payload)); !errors.Is(err, pgperrors.ErrKeyExpired) {
		t.Errorf("old expired key: err = %v, want expired", err)
	}
}

func TestExpiryIsRelativeToNow(t *testing.T) {
	k := NewKey(t, "E", WithExpiry(2*time.Hour))
	sig, _ := k.Entity.PrimarySelfSignature()
	exp := k.Entity.PrimaryKey.CreationTime.Add(time.Duration(*sig.KeyLifetimeSecs) * time.Second)
	if d := time.Until(exp); d < 2*time.Hour-5*time.Second || d > 2*time.Hour+5*time.Second {
		t.Errorf("key expires in %v, want about 2h", d)
	}
}

func TestWithHash(t *testing.T) {
	for _, tt := range []struct {
		h      crypto.Hash
		octet  byte
		verify bool
	}{
		{crypto.SHA256, 8, true},
		{crypto.SHA224, 11, true},
		{crypto.SHA1, 2, true},
		{crypto.MD5, 1, false},
		{crypto.RIPEMD160, 3, false},
	} {
		t.Run(tt.h.String(), func(t *testing.T) {
			k := NewKey(t, "H")
			sig := k.Sign(t, payload, WithHash(tt.h))
			block, err := armor.Decode(bytes.NewReader(sig))
			if err != nil {
				t.Fatal(err)
			}
			raw := new(bytes.Buffer)
			raw.ReadFrom(block.Body)
			off := hashOctetOffset(raw.Bytes())
			if off < 0 {
				t.Fatal("cannot locate the hash octet")
			}
			if got := raw.Bytes()[off]; got != tt.octet {
				t.Fatalf("hash octet = %d, want %d", got, tt.octet)
			}
			if tt.verify {
				if s := parseSig(t, sig); s.Hash != tt.h {
					t.Errorf("hash = %v, want %v", s.Hash, tt.h)
				}
				// The library accepts SHA-1 and SHA-224 on verification;
				// the signature must be genuine.
				if _, err := check(t, k, payload, sig); err != nil {
					t.Errorf("verifying %v signature: %v", tt.h, err)
				}
			}
		})
	}
}

func TestSignedAtAndBinary(t *testing.T) {
	k := NewKey(t, "B")
	future := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	sig := k.Sign(t, payload, SignedAt(future), Binary())
	p, err := packet.Read(bytes.NewReader(sig))
	if err != nil {
		t.Fatalf("binary signature does not parse: %v", err)
	}
	if s := p.(*packet.Signature); !s.CreationTime.Equal(future) {
		t.Errorf("created %v, want %v", s.CreationTime, future)
	}
}

func TestGarbage(t *testing.T) {
	k := NewKey(t, "G")
	ring := openpgp.EntityList{k.Entity}
	if _, err := openpgp.CheckArmoredDetachedSignature(ring, bytes.NewReader(payload), bytes.NewReader(Garbage()), nil); err == nil {
		t.Fatal("garbage verified")
	}
}

func TestWriteKeyring(t *testing.T) {
	dir := t.TempDir()
	k := NewKey(t, "W")
	for prefix, want := range map[string]string{
		"":                "trustedkeys/root.d/" + k.Fingerprint,
		"example.com/app": "trustedkeys/prefix.d/example.com/app/" + k.Fingerprint,
	} {
		p := WriteKeyring(t, dir, prefix, k)
		if p != filepath.Join(dir, want) {
			t.Errorf("prefix %q: path %s, want %s", prefix, p, want)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
		if err != nil || len(ring) != 1 {
			t.Fatalf("reading %s: %v (%d entities)", p, err, len(ring))
		}
	}
}
