package trust

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// Kinds of trusted keys, in KeyInfo.Kind.
const (
	KindOpenPGP   = "openpgp"
	KindPublicKey = "ecdsa-p256" // a PEM public key, as `cosign generate-key-pair` writes
)

// ErrNoKeyVerifies: a signature that names no key (a cosign signature)
// was verified by none of the keys trusted for the image.
var ErrNoKeyVerifies = errors.New("no trusted key verifies the signature")

// ErrUnsupportedKey: a PEM public key other than ECDSA P-256.
var ErrUnsupportedKey = errors.New("unsupported public key")

const pemPublicKey = "PUBLIC KEY"

func isPEMPublicKey(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("-----BEGIN "+pemPublicKey+"-----"))
}

// readPEMKey parses one PEM "PUBLIC KEY" block (a DER SubjectPublicKeyInfo)
// holding an ECDSA key on P-256, the kind cosign makes, with nothing after
// it but white space. Its fingerprint is the SHA-256 of the DER bytes.
func readPEMKey(data []byte) (*Key, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != pemPublicKey {
		return nil, fmt.Errorf("decoding PEM public key: %w", ErrNotOneKey)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("%w: %d bytes of data after the PEM block", ErrNotOneKey, len(bytes.TrimSpace(rest)))
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("decoding PEM public key: %w", err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: a PEM public key must be ECDSA P-256, this is a %T", ErrUnsupportedKey, pub)
	}
	if ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: a PEM public key must be ECDSA P-256, this is on %s", ErrUnsupportedKey, ec.Curve.Params().Name)
	}
	sum := sha256.Sum256(block.Bytes)
	return &Key{Fingerprint: hex.EncodeToString(sum[:]), Public: ec, raw: data}, nil
}

// Kind says what sort of key k is: KindOpenPGP or KindPublicKey.
func (k *Key) Kind() string {
	if k.Public != nil {
		return KindPublicKey
	}
	return KindOpenPGP
}

// strength refuses weak OpenPGP keys; a PEM key was checked when read.
func (k *Key) strength() error {
	if k.Entity == nil {
		return nil
	}
	return checkStrength(k.Entity)
}

// VerifyDigest checks sig, an ASN.1 ECDSA signature over the SHA-256
// digest of a payload (as cosign signs), against the PEM public keys
// trusted for image name. A signature names no key, so each key of the
// keyring is tried; when none verifies, the refusal is an
// *UnknownSignerError wrapping ErrNoKeyVerifies that says, when a key
// trusted for another prefix would have verified it, which one.
func (ks *Keystore) VerifyDigest(name string, digest, sig []byte) (*Verdict, error) {
	keys, searched, err := ks.keyring(name)
	if err != nil {
		return nil, fmt.Errorf("verifying signature of %q: %w", name, err)
	}
	var best *trustedKey
	for i, tk := range keys {
		if tk.key.Public == nil || !ecdsa.VerifyASN1(tk.key.Public, digest, sig) {
			continue
		}
		if best == nil || len(tk.prefix) > len(best.prefix) {
			best = &keys[i]
		}
	}
	if best != nil {
		return &Verdict{Name: name, Fingerprint: best.key.Fingerprint, Prefix: best.prefix, KeyPath: best.path}, nil
	}
	e := &UnknownSignerError{Name: name, Searched: searched, noKeyID: true}
	if all, err := ks.allKeys(); err == nil {
		for _, tk := range all {
			if tk.key.Public != nil && ecdsa.VerifyASN1(tk.key.Public, digest, sig) {
				e.TrustedFor = append(e.TrustedFor, tk.prefix)
				if e.TrustedPath == "" {
					e.TrustedPath, e.TrustedKey, e.Fingerprint = tk.path, tk.key.Fingerprint, tk.key.Fingerprint
				}
			}
		}
	}
	return nil, e
}
