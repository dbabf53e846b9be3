package trust

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"testing"
)

// OCI image names: a registry with a port is a prefix like any other.
func TestPrefixWithPort(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"localhost:5000", true},
		{"localhost:5000/team", true},
		{"127.0.0.1:5000/team/app", true},
		{"localhost:/team", false},
		{":5000/team", false},
		{"localhost:50a0/team", false},
		{"localhost:123456/team", false},
		{"example.com/team:1", false}, // a tag is not part of a name
		{"example.com/a:5000", false},
	} {
		_, err := NormalizePrefix(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("NormalizePrefix(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
	got := prefixesFor("localhost:5000/team/app")
	want := []string{"", "localhost:5000", "localhost:5000/team", "localhost:5000/team/app"}
	if len(got) != len(want) {
		t.Fatalf("prefixesFor = %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("prefixesFor = %q, want %q", got, want)
		}
	}
}

func pemKey(t *testing.T, curve elliptic.Curve) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// A PEM ECDSA P-256 public key (cosign's) is stored beside OpenPGP keys,
// named by the SHA-256 of its DER form, listed, verifies for its prefix
// only, and is removed like any key.
func TestPEMPublicKey(t *testing.T) {
	priv, data := pemKey(t, elliptic.P256())
	k, err := ParseKey(data)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	sum := sha256.Sum256(block.Bytes)
	if k.Fingerprint != hex.EncodeToString(sum[:]) || k.Kind() != KindPublicKey {
		t.Fatalf("fingerprint %s kind %s", k.Fingerprint, k.Kind())
	}
	ks := New("", t.TempDir())
	if _, _, err := ks.Add("localhost:5000/team", k); err != nil {
		t.Fatal(err)
	}
	infos, err := ks.List()
	if err != nil || len(infos) != 1 || infos[0].Fingerprint != k.Fingerprint || infos[0].Kind != KindPublicKey {
		t.Fatalf("List = %+v, %v", infos, err)
	}
	digest := sha256.Sum256([]byte("payload"))
	sig, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	v, err := ks.VerifyDigest("localhost:5000/team/app", digest[:], sig)
	if err != nil || v.Fingerprint != k.Fingerprint || v.Prefix != "localhost:5000/team" {
		t.Fatalf("VerifyDigest = %+v, %v", v, err)
	}
	var unknown *UnknownSignerError
	_, err = ks.VerifyDigest("localhost:5000/teams/app", digest[:], sig)
	if !errors.As(err, &unknown) || !errors.Is(err, ErrNoKeyVerifies) || len(unknown.TrustedFor) != 1 {
		t.Fatalf("VerifyDigest for another prefix = %v", err)
	}
	other := sha256.Sum256([]byte("other payload"))
	if _, err := ks.VerifyDigest("localhost:5000/team/app", other[:], sig); !errors.Is(err, ErrNoKeyVerifies) {
		t.Fatalf("VerifyDigest of other bytes = %v", err)
	}
	if _, err := ks.Remove("localhost:5000/team", k.Fingerprint); err != nil {
		t.Fatal(err)
	}

	// Other curves are refused; so is anything after the PEM block.
	_, p384 := pemKey(t, elliptic.P384())
	if _, err := ParseKey(p384); !errors.Is(err, ErrUnsupportedKey) {
		t.Errorf("P-384 key: %v", err)
	}
	if _, err := ParseKey(append(data, data...)); !errors.Is(err, ErrNotOneKey) {
		t.Errorf("two PEM keys: %v", err)
	}
}
