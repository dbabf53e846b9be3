package trust

import (
	"bytes"
	"crypto"
	"encoding"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rkt/rkt/stage0/trust/trusttest"
)

// TestSeveralSignatures: a signature file holding several signatures, as
// while keys rotate, was refused whole ("only one signature per file").
// It is accepted when one signature is by a key trusted for the name and
// verifies, and none is bad.
func TestSeveralSignatures(t *testing.T) {
	old := trusttest.NewKey(t, "Old <old@example.com>")
	nu := trusttest.NewKey(t, "New <new@example.com>")
	stranger := trusttest.NewKey(t, "Stranger")
	expired := trusttest.NewKey(t, "Expired", trusttest.WithExpiry(-time.Second))
	weak := trusttest.NewKey(t, "Weak", trusttest.RSA(1024))
	other := []byte("some other image")
	cat := func(sigs ...[]byte) []byte { return bytes.Join(sigs, nil) }

	tests := []struct {
		name    string
		trusted []*trusttest.Key
		sig     []byte
		signer  *trusttest.Key // accepted by this key; nil: refused
		want    []error        // errors.Is targets of the refusal
		wantAs  []any          // errors.As targets of the refusal
	}{
		{name: "old and new, old trusted", trusted: []*trusttest.Key{old},
			sig: cat(old.Sign(t, image), nu.Sign(t, image)), signer: old},
		{name: "old and new, new trusted", trusted: []*trusttest.Key{nu},
			sig: cat(old.Sign(t, image), nu.Sign(t, image)), signer: nu},
		{name: "both trusted: the first counts", trusted: []*trusttest.Key{old, nu},
			sig: cat(nu.Sign(t, image), old.Sign(t, image)), signer: nu},
		{name: "binary packets", trusted: []*trusttest.Key{nu},
			sig: cat(old.Sign(t, image, trusttest.Binary()), nu.Sign(t, image, trusttest.Binary())), signer: nu},
		{name: "different digests", trusted: []*trusttest.Key{nu},
			sig: cat(old.Sign(t, image, trusttest.WithHash(crypto.SHA256)), nu.Sign(t, image, trusttest.WithHash(crypto.SHA384))), signer: nu},
		{name: "different digests, first trusted", trusted: []*trusttest.Key{old},
			sig: cat(old.Sign(t, image, trusttest.WithHash(crypto.SHA256)), nu.Sign(t, image)), signer: old},
		{name: "unknown signer over other bytes is not bad", trusted: []*trusttest.Key{nu},
			sig: cat(stranger.Sign(t, other), nu.Sign(t, image)), signer: nu},
		{name: "SHA-1 by a trusted key beside a good one", trusted: []*trusttest.Key{old, nu},
			sig: cat(old.Sign(t, image, trusttest.WithHash(crypto.SHA1)), nu.Sign(t, image)), signer: nu},
		{name: "MD5 beside a good one", trusted: []*trusttest.Key{nu},
			sig: cat(old.Sign(t, image, trusttest.WithHash(crypto.MD5)), nu.Sign(t, image)), signer: nu},
		{name: "expired old key beside a good one", trusted: []*trusttest.Key{expired, nu},
			sig: cat(expired.Sign(t, image), nu.Sign(t, image)), signer: nu},
		{name: "weak old key beside a good one", trusted: []*trusttest.Key{weak, nu},
			sig: cat(weak.Sign(t, image), nu.Sign(t, image)), signer: nu},

		{name: "none trusted", trusted: []*trusttest.Key{stranger},
			sig: cat(old.Sign(t, image), nu.Sign(t, image)), wantAs: []any{new(*UnknownSignerError)}},
		{name: "a trusted key's signature does not match", trusted: []*trusttest.Key{old, nu},
			sig: cat(old.Sign(t, image), nu.Sign(t, other)), want: []error{ErrBadSignature}, wantAs: []any{new(*SignatureError)}},
		{name: "a trusted key's signature does not match, even after an accepted one", trusted: []*trusttest.Key{old, nu},
			sig: cat(nu.Sign(t, image), old.Sign(t, other)), want: []error{ErrBadSignature}},
		{name: "expired trusted key and unknown key", trusted: []*trusttest.Key{expired},
			sig: cat(expired.Sign(t, image), nu.Sign(t, image)), want: []error{ErrKeyExpired},
			wantAs: []any{new(*UnknownSignerError), new(*SignatureError), new(*NoAcceptedSignatureError)}},
		{name: "SHA-1 by the only trusted key", trusted: []*trusttest.Key{old},
			sig: cat(old.Sign(t, image, trusttest.WithHash(crypto.SHA1)), nu.Sign(t, image)), want: []error{ErrWeakDigest},
			wantAs: []any{new(*UnknownSignerError), new(*SignatureError)}},
		{name: "weak trusted key and unknown key", trusted: []*trusttest.Key{weak},
			sig: cat(weak.Sign(t, image), nu.Sign(t, image)), want: []error{ErrWeakKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDirs(t)
			for _, k := range tt.trusted {
				trusttest.WriteKeyring(t, d.local, "example.com", k)
			}
			v, err := verify(t, d.ks, "example.com/app", tt.sig, image, time.Now())
			if tt.signer != nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if v.Fingerprint != tt.signer.Fingerprint {
					t.Fatalf("accepted by %s, want %s", v.Fingerprint, tt.signer.Fingerprint)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted by %s, want a refusal", v.Fingerprint)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("err = %v, want %v", err, w)
				}
			}
			for _, w := range tt.wantAs {
				if !errors.As(err, w) {
					t.Errorf("err = %v, want a %T", err, w)
				}
			}
		})
	}
}

func TestUnknownSignersAreAllNamed(t *testing.T) {
	d := newDirs(t)
	a := trusttest.NewKey(t, "A")
	b := trusttest.NewKey(t, "B")
	_, err := verify(t, d.ks, "example.com/app", append(a.Sign(t, image), b.Sign(t, image)...), image, time.Now())
	var u *UnknownSignerError
	if !errors.As(err, &u) || len(u.Others) != 1 {
		t.Fatalf("err = %v, want an *UnknownSignerError naming both signers", err)
	}
	signers := []string{u.Fingerprint, u.Others[0]}
	if signers[0] == "" || signers[0] == signers[1] {
		t.Fatalf("signers %q, want two fingerprints", signers)
	}
	for _, fpr := range signers {
		if !strings.Contains(err.Error(), fpr) {
			t.Errorf("error %q does not name %s", err, fpr)
		}
	}
}

// TestSignatureFileShape: what a signature file may hold.
func TestSignatureFileShape(t *testing.T) {
	k := trusttest.NewKey(t, "K")
	sig := k.Sign(t, image)
	many := bytes.Repeat(sig, MaxSignatures+1)
	tests := []struct {
		name string
		data []byte
		want error // nil: parsed
	}{
		{"one", sig, nil},
		{"armored blocks with blank lines between", append(append(append([]byte{}, sig...), "\n\n"...), sig...), nil},
		{"the most signatures", bytes.Repeat(sig, MaxSignatures), nil},
		{"too many signatures", many, ErrGarbageSignature},
		{"text between blocks", append(append(append([]byte{}, sig...), "hello\n"...), sig...), ErrGarbageSignature},
		{"garbage block after a good one", append(append([]byte{}, sig...), trusttest.Garbage()...), ErrGarbageSignature},
		{"a key after a signature", append(k.Sign(t, image, trusttest.Binary()), k.PublicBinary(t)...), ErrGarbageSignature},
		{"truncated second packet", func() []byte {
			b := k.Sign(t, image, trusttest.Binary())
			return append(append([]byte{}, b...), b[:len(b)-3]...)
		}(), ErrGarbageSignature},
		{"only weak digests", append(k.Sign(t, image, trusttest.WithHash(crypto.SHA1)), k.Sign(t, image, trusttest.WithHash(crypto.MD5))...), ErrWeakDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSignature(tt.data)
			if tt.want == nil && err != nil {
				t.Fatalf("ParseSignature: %v", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestSeveralDigestsHashState: the hash NewHash gives for signatures of
// different digests can be saved and restored, as the fetcher does to check
// the same bytes again after trusting discovered keys.
func TestSeveralDigestsHashState(t *testing.T) {
	d := newDirs(t)
	a := trusttest.NewKey(t, "A")
	b := trusttest.NewKey(t, "B")
	trusttest.WriteKeyring(t, d.local, "", b)
	s, err := ParseSignature(append(a.Sign(t, image, trusttest.WithHash(crypto.SHA256)), b.Sign(t, image, trusttest.WithHash(crypto.SHA512))...))
	if err != nil {
		t.Fatal(err)
	}
	h := s.NewHash()
	h.Write(image[:10])
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	h2 := s.NewHash()
	if err := h2.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	h2.Write(image[10:])
	if _, err := d.ks.Verify("example.com/app", s, h2, time.Now()); err != nil {
		t.Fatalf("after restoring: %v", err)
	}
	// A plain hash is not what NewHash gave.
	plain := crypto.SHA512.New()
	plain.Write(image)
	if _, err := d.ks.Verify("example.com/app", s, plain, time.Now()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("plain hash: err = %v, want ErrBadSignature", err)
	}
}

// TestLegacyIndeterminateLength: an old-format packet of indeterminate
// length (to the end of the file), as old PGP tools wrote, still parses
// as the last signature.
func TestLegacyIndeterminateLength(t *testing.T) {
	d := newDirs(t)
	k := trusttest.NewKey(t, "K")
	trusttest.WriteKeyring(t, d.local, "", k)
	bin := k.Sign(t, image, trusttest.Binary())
	if bin[0]&0xc0 != 0xc0 || bin[1] >= 192 {
		t.Fatalf("want a new-format packet with a one-octet length, got % x", bin[:2])
	}
	legacy := append([]byte{0x80 | 2<<2 | 3}, bin[2:]...)
	if _, err := verify(t, d.ks, "example.com/app", legacy, image, time.Now()); err != nil {
		t.Fatalf("legacy indeterminate-length signature: %v", err)
	}
}
