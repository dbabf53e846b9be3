package trust

import (
	"crypto/dsa"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/elgamal"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/rkt/rkt/stage0/trust/trusttest"
)

// TestWeakKeyRefusedByParseKey: rkt trust (and --trust-keys-from-https)
// used to add an RSA-1024 key like any other.
func TestWeakKeyRefusedByParseKey(t *testing.T) {
	weak := trusttest.NewKey(t, "Weak <weak@example.com>", trusttest.RSA(1024))
	_, err := ParseKey(weak.ArmoredPublic(t))
	if !errors.Is(err, ErrWeakKey) || !strings.Contains(err.Error(), "RSA 1024 bits") || !strings.Contains(err.Error(), weak.Fingerprint) {
		t.Fatalf("ParseKey(RSA-1024): err = %v, want ErrWeakKey naming the key and its size", err)
	}
	strong := trusttest.NewKey(t, "Strong", trusttest.RSA(2048))
	if _, err := ParseKey(strong.ArmoredPublic(t)); err != nil {
		t.Fatalf("ParseKey(RSA-2048): %v", err)
	}
	if _, err := ParseKey(trusttest.NewKey(t, "Ed25519").ArmoredPublic(t)); err != nil {
		t.Fatalf("ParseKey(Ed25519): %v", err)
	}
}

// TestWeakKeyInKeyringRefusedAtVerify: a weak key already in the trust dir
// verified images before; now its signatures are refused, with the fix.
func TestWeakKeyInKeyringRefusedAtVerify(t *testing.T) {
	d := newDirs(t)
	weak := trusttest.NewKey(t, "Weak", trusttest.RSA(1024))
	path := trusttest.WriteKeyring(t, d.local, "example.com", weak)
	_, err := verify(t, d.ks, "example.com/app", weak.Sign(t, image), image, time.Now())
	var se *SignatureError
	if !errors.As(err, &se) || !errors.Is(err, ErrWeakKey) || se.KeyPath != path {
		t.Fatalf("verify: err = %v, want a *SignatureError wrapping ErrWeakKey for %s", err, path)
	}
	if !strings.Contains(err.Error(), "rkt trust --prefix example.com --remove "+weak.Fingerprint) {
		t.Errorf("error %q does not say how to remove the key", err)
	}
	// The bytes are checked first: tampering is reported as such.
	tampered := append([]byte("x"), image...)
	if _, err := verify(t, d.ks, "example.com/app", weak.Sign(t, image), tampered, time.Now()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("tampered: err = %v, want ErrBadSignature", err)
	}
	infos, err := d.ks.List()
	if err != nil || len(infos) != 1 || !errors.Is(infos[0].Weak, ErrWeakKey) {
		t.Errorf("List = %+v, %v; want the key listed as weak", infos, err)
	}
}

// TestKeyBits pins the size rule for the algorithms the library cannot
// generate keys of (DSA, ElGamal): only the modulus size matters here.
func TestKeyBits(t *testing.T) {
	p := func(bits uint) *big.Int { return new(big.Int).SetBit(new(big.Int).SetInt64(1), int(bits-1), 1) }
	now := time.Now()
	dsaKey := func(bits uint) *packet.PublicKey {
		return packet.NewDSAPublicKey(now, &dsa.PublicKey{Parameters: dsa.Parameters{P: p(bits), Q: p(160), G: big.NewInt(2)}, Y: big.NewInt(3)})
	}
	elgKey := func(bits uint) *packet.PublicKey {
		return packet.NewElGamalPublicKey(now, &elgamal.PublicKey{P: p(bits), G: big.NewInt(2), Y: big.NewInt(3)})
	}
	tests := []struct {
		name string
		key  *packet.PublicKey
		weak bool
	}{
		{"DSA-1024", dsaKey(1024), true},
		{"DSA-2048", dsaKey(2048), false},
		{"ElGamal-1024", elgKey(1024), true},
		{"ElGamal-2047", elgKey(2047), true},
		{"ElGamal-3072", elgKey(3072), false},
	}
	for _, tt := range tests {
		err := checkKeyBits(tt.key)
		if tt.weak != errors.Is(err, ErrWeakKey) {
			t.Errorf("%s: err = %v, want weak=%v", tt.name, err, tt.weak)
		}
	}
}
