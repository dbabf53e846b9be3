// Package trusttest makes real OpenPGP keys, signatures and keystore layouts
// for tests of the packages that check image signatures.
//
// Invariants:
//   - Every key is generated in the test that asks for it (Ed25519 by default,
//     so NewKey stays in the low milliseconds; RSA on request). Nothing is
//     read from fixtures and nothing is mocked: a signature made here verifies
//     with any OpenPGP implementation exactly when its options say it should.
//   - A key is created one hour in the past unless CreatedAt says otherwise,
//     so signatures can be dated before "now" (SigExpired) without predating
//     the key.
//   - The options change only what they name: WithExpiry sets the primary
//     key's (and subkey's) lifetime, Revoked adds a key revocation signature,
//     SignWithPrimaryOnly leaves out the signing subkey.
//   - Failures are reported through testing.TB; the helpers never return
//     errors.
package trusttest

import (
	"bytes"
	"crypto"
	_ "crypto/sha1" // SHA-1 signatures for the weak-digest refusal tests
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Key is a generated OpenPGP key with its private parts.
type Key struct {
	Entity      *openpgp.Entity
	Fingerprint string // lowercase hex of the primary key's fingerprint
	UserID      string // the one identity, "Name <email>"

	created time.Time
	expires time.Time // zero: never
}

type keyOptions struct {
	expiry      *time.Duration
	created     *time.Time
	revoked     bool
	primaryOnly bool
	rsaBits     int
}

// Option changes how NewKey builds a key.
type Option func(*keyOptions)

// WithExpiry makes the key expire at now+d. A negative d gives a key that has
// already expired: it is created in the past (an hour before its expiry
// unless CreatedAt says otherwise) so that it was valid for a while.
func WithExpiry(d time.Duration) Option {
	return func(o *keyOptions) { o.expiry = &d }
}

// Revoked adds a self-signed revocation of the primary key, dated now.
func Revoked() Option {
	return func(o *keyOptions) { o.revoked = true }
}

// SignWithPrimaryOnly leaves out the signing subkey, so signatures are made
// by the primary key.
func SignWithPrimaryOnly() Option {
	return func(o *keyOptions) { o.primaryOnly = true }
}

// CreatedAt sets the creation time of the primary key and its subkeys.
func CreatedAt(t time.Time) Option {
	return func(o *keyOptions) { o.created = &t }
}

// RSA makes RSA keys of the given size instead of Ed25519 ones. RSA-2048
// generation takes tens to hundreds of milliseconds.
func RSA(bits int) Option {
	return func(o *keyOptions) { o.rsaBits = bits }
}

// NewKey generates a key for uid ("Name <email>" or just "Name"): a primary
// key able to sign and certify, a signing subkey (unless
// SignWithPrimaryOnly) and an encryption subkey.
func NewKey(t testing.TB, uid string, opts ...Option) *Key {
	t.Helper()
	var o keyOptions
	for _, opt := range opts {
		opt(&o)
	}
	now := time.Now().Truncate(time.Second)
	created := now.Add(-time.Hour)
	var expires time.Time
	if o.expiry != nil {
		expires = now.Add(*o.expiry)
		if *o.expiry < 0 {
			created = expires.Add(-time.Hour)
		}
	}
	if o.created != nil {
		created = o.created.Truncate(time.Second)
	}
	var lifetime uint32
	if !expires.IsZero() {
		secs := expires.Sub(created) / time.Second
		if secs < 1 {
			t.Fatalf("trusttest: key for %q would expire (%s) before it is created (%s)", uid, expires, created)
		}
		lifetime = uint32(secs)
	}
	cfg := &packet.Config{
		Algorithm:       packet.PubKeyAlgoEdDSA,
		Curve:           packet.Curve25519,
		DefaultHash:     crypto.SHA512,
		KeyLifetimeSecs: lifetime,
		Time:            func() time.Time { return created },
	}
	if o.rsaBits > 0 {
		cfg.Algorithm = packet.PubKeyAlgoRSA
		cfg.RSABits = o.rsaBits
	}
	name, email := splitUID(uid)
	e, err := openpgp.NewEntity(name, "", email, cfg)
	if err != nil {
		t.Fatalf("trusttest: generating key for %q: %v", uid, err)
	}
	if !o.primaryOnly {
		if err := e.AddSigningSubkey(cfg); err != nil {
			t.Fatalf("trusttest: adding signing subkey for %q: %v", uid, err)
		}
	}
	if o.revoked {
		rcfg := *cfg
		rcfg.Time = func() time.Time { return now }
		if err := e.RevokeKey(packet.KeySuperseded, "superseded", &rcfg); err != nil {
			t.Fatalf("trusttest: revoking key for %q: %v", uid, err)
		}
	}
	id := e.PrimaryIdentity()
	if id == nil {
		t.Fatalf("trusttest: key for %q has no identity", uid)
	}
	return &Key{
		Entity:      e,
		Fingerprint: hex.EncodeToString(e.PrimaryKey.Fingerprint),
		UserID:      id.Name,
		created:     created,
		expires:     expires,
	}
}

func splitUID(uid string) (name, email string) {
	if i := strings.LastIndex(uid, " <"); i >= 0 && strings.HasSuffix(uid, ">") {
		return uid[:i], uid[i+2 : len(uid)-1]
	}
	return uid, ""
}

// PublicBinary returns the public key in binary OpenPGP form.
func (k *Key) PublicBinary(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := k.Entity.Serialize(&buf); err != nil {
		t.Fatalf("trusttest: serializing key %s: %v", k.Fingerprint, err)
	}
	return buf.Bytes()
}

// ArmoredPublic returns the public key, ASCII-armored.
func (k *Key) ArmoredPublic(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatalf("trusttest: armoring key %s: %v", k.Fingerprint, err)
	}
	if err := k.Entity.Serialize(w); err != nil {
		t.Fatalf("trusttest: serializing key %s: %v", k.Fingerprint, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("trusttest: armoring key %s: %v", k.Fingerprint, err)
	}
	return buf.Bytes()
}

type sigOptions struct {
	hash    crypto.Hash
	expired bool
	primary bool
	at      *time.Time
	binary  bool
}

// SigOption changes how Sign builds a signature.
type SigOption func(*sigOptions)

// WithHash sets the digest algorithm (default SHA-512). SHA-1 and SHA-224
// give real signatures. MD5 and RIPEMD-160 cannot be produced by the OpenPGP
// library, so for those a SHA-256 signature is made and its hash algorithm
// octet rewritten: the packet declares the weak digest, and its signature
// value is meaningless.
func WithHash(h crypto.Hash) SigOption {
	return func(o *sigOptions) { o.hash = h }
}

// SigExpired dates the signature in the past with a one-second lifetime, so
// that it has expired by now.
func SigExpired() SigOption {
	return func(o *sigOptions) { o.expired = true }
}

// SignWithPrimary signs with the primary key even when there is a signing
// subkey.
func SignWithPrimary() SigOption {
	return func(o *sigOptions) { o.primary = true }
}

// SignedAt sets the signature creation time (for example in the future).
func SignedAt(t time.Time) SigOption {
	return func(o *sigOptions) { o.at = &t }
}

// Binary returns the signature as a binary packet instead of armored text.
func Binary() SigOption {
	return func(o *sigOptions) { o.binary = true }
}

// Sign returns an armored detached binary-mode signature over data.
func (k *Key) Sign(t testing.TB, data []byte, opts ...SigOption) []byte {
	t.Helper()
	return k.SignReader(t, bytes.NewReader(data), opts...)
}

// SignReader is Sign over the bytes read from r.
func (k *Key) SignReader(t testing.TB, r io.Reader, opts ...SigOption) []byte {
	t.Helper()
	o := sigOptions{hash: crypto.SHA512}
	for _, opt := range opts {
		opt(&o)
	}

	// The signing key: the newest signing subkey unless asked otherwise.
	pub, priv := k.Entity.PrimaryKey, k.Entity.PrivateKey
	if !o.primary {
		for _, sk := range k.Entity.Subkeys {
			if sk.Sig != nil && sk.Sig.FlagsValid && sk.Sig.FlagSign && sk.PrivateKey != nil {
				pub, priv = sk.PublicKey, sk.PrivateKey
			}
		}
	}

	// The signing time: now, unless the key is no longer valid, in which
	// case a moment of its life, so that only the key's state is at fault.
	now := time.Now().Truncate(time.Second)
	at := now
	if !k.expires.IsZero() && !k.expires.After(now) {
		at = k.created.Add(k.expires.Sub(k.created) / 2).Truncate(time.Second)
	}
	var lifetime *uint32
	if o.expired {
		at = now.Add(-10 * time.Minute)
		if at.Before(k.created) {
			at = k.created
		}
		one := uint32(1)
		lifetime = &one
		if !at.Add(time.Second).Before(now) {
			t.Fatalf("trusttest: key %s is too young for an expired signature; use CreatedAt", k.Fingerprint)
		}
	}
	if o.at != nil {
		at = o.at.Truncate(time.Second)
	}

	hashAlg, patchTo := o.hash, byte(0)
	switch o.hash {
	case crypto.MD5:
		hashAlg, patchTo = crypto.SHA256, 1
	case crypto.RIPEMD160:
		hashAlg, patchTo = crypto.SHA256, 3
	}
	keyID := pub.KeyId
	sig := &packet.Signature{
		Version:         pub.Version,
		SigType:         packet.SigTypeBinary,
		PubKeyAlgo:      pub.PubKeyAlgo,
		Hash:            hashAlg,
		CreationTime:    at,
		IssuerKeyId:     &keyID,
		SigLifetimeSecs: lifetime,
	}
	cfg := &packet.Config{Time: func() time.Time { return at }}
	if _, err := packet.SaltLengthForHash(hashAlg); err != nil {
		// The salt notation is only defined for the strong digests.
		off := false
		cfg.NonDeterministicSignaturesViaNotation = &off
	}
	h, err := sig.PrepareSign(cfg)
	if err != nil {
		t.Fatalf("trusttest: preparing signature with %s: %v", hashAlg, err)
	}
	if _, err := io.Copy(h, r); err != nil {
		t.Fatalf("trusttest: reading signed data: %v", err)
	}
	if err := sig.Sign(h, priv, cfg); err != nil {
		t.Fatalf("trusttest: signing with %s: %v", k.Fingerprint, err)
	}
	var raw bytes.Buffer
	if err := sig.Serialize(&raw); err != nil {
		t.Fatalf("trusttest: serializing signature: %v", err)
	}
	out := raw.Bytes()
	if patchTo != 0 {
		off := hashOctetOffset(out)
		if off < 0 {
			t.Fatalf("trusttest: cannot locate hash octet in signature packet")
		}
		out[off] = patchTo
	}
	if o.binary {
		return out
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.SignatureType, nil)
	if err != nil {
		t.Fatalf("trusttest: armoring signature: %v", err)
	}
	if _, err := w.Write(out); err != nil {
		t.Fatalf("trusttest: armoring signature: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("trusttest: armoring signature: %v", err)
	}
	return buf.Bytes()
}

// hashOctetOffset finds the hash algorithm octet of a serialized v4/v6
// signature packet (new-format header, as the library writes).
func hashOctetOffset(p []byte) int {
	if len(p) < 2 || p[0]&0xc0 != 0xc0 {
		return -1
	}
	var hdr int
	switch l := p[1]; {
	case l < 192:
		hdr = 2
	case l < 224:
		hdr = 3
	case l == 255:
		hdr = 6
	default:
		return -1
	}
	if len(p) < hdr+4 {
		return -1
	}
	return hdr + 3 // version, type, public-key algorithm, hash algorithm
}

// Garbage returns an armored block that does not hold a valid signature.
func Garbage() []byte {
	return []byte("-----BEGIN PGP SIGNATURE-----\n\nthis is not a signature at all\n=AAAA\n-----END PGP SIGNATURE-----\n")
}

// WriteKeyring stores k's armored public key where a keystore rooted at dir
// looks for it: <dir>/trustedkeys/prefix.d/<prefix>/<fingerprint>, or
// <dir>/trustedkeys/root.d/<fingerprint> when prefix is "". It returns the
// file's path.
func WriteKeyring(t testing.TB, dir string, prefix string, k *Key) string {
	t.Helper()
	d := filepath.Join(dir, "trustedkeys", "root.d")
	if prefix != "" {
		d = filepath.Join(dir, "trustedkeys", "prefix.d", filepath.FromSlash(prefix))
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatalf("trusttest: creating %s: %v", d, err)
	}
	p := filepath.Join(d, k.Fingerprint)
	if err := os.WriteFile(p, k.ArmoredPublic(t), 0o644); err != nil {
		t.Fatalf("trusttest: writing %s: %v", p, err)
	}
	return p
}

// GPGHome makes an empty GNUPGHOME (mode 0700, under the system temp dir:
// gpg-agent's socket path must stay short) for a test that drives the real
// gpg, and at cleanup stops its agent and removes it. It skips the test
// when gpg is not installed.
func GPGHome(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Skip("gpg is not installed (install_packages in scripts/lib.sh lists gnupg)")
	}
	home, err := os.MkdirTemp("", "gnupg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	return home
}
