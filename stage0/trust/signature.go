package trust

import (
	"bytes"
	"crypto"
	_ "crypto/sha256" // digests a signature may name
	_ "crypto/sha3"
	_ "crypto/sha512"
	"encoding"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// MaxClockSkew is how far in the future a signature may be dated before
// Verify refuses it, to allow for clocks that are slightly off.
const MaxClockSkew = 5 * time.Minute

// Signature is a parsed detached OpenPGP signature over an image.
type Signature struct {
	pkt *packet.Signature
}

// weakDigests maps the OpenPGP hash algorithm octets refused by
// ParseSignature to their names.
var weakDigests = map[byte]string{
	1:  "MD5",
	2:  "SHA-1",
	3:  "RIPEMD-160",
	11: "SHA-224",
}

// ParseSignature reads one detached signature, armored or binary. Data that
// is empty or not a single signature packet gives ErrGarbageSignature; a
// signature over MD5, SHA-1, RIPEMD-160 or SHA-224 gives ErrWeakDigest.
func ParseSignature(data []byte) (*Signature, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("parsing signature: %w: empty", ErrGarbageSignature)
	}
	raw := data
	if isArmored(data) {
		block, err := armor.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("parsing signature: %w: %v", ErrGarbageSignature, err)
		}
		if block.Type != openpgp.SignatureType {
			return nil, fmt.Errorf("parsing signature: %w: armored block is %q", ErrGarbageSignature, block.Type)
		}
		raw, err = io.ReadAll(block.Body)
		if err != nil {
			return nil, fmt.Errorf("parsing signature: %w: %v", ErrGarbageSignature, err)
		}
	}
	// Name a weak digest even when the library cannot parse the packet
	// (it rejects MD5 and RIPEMD-160 outright).
	if id, ok := rawHashOctet(raw); ok {
		if name, weak := weakDigests[id]; weak {
			return nil, fmt.Errorf("parsing signature: %w (%s)", ErrWeakDigest, name)
		}
	}
	r := bytes.NewReader(raw)
	p, err := packet.Read(r)
	if err != nil {
		return nil, fmt.Errorf("parsing signature: %w: %v", ErrGarbageSignature, err)
	}
	sig, ok := p.(*packet.Signature)
	if !ok {
		return nil, fmt.Errorf("parsing signature: %w: found a %T packet", ErrGarbageSignature, p)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("parsing signature: %w: more than one packet (only one signature per file is supported)", ErrGarbageSignature)
	}
	if sig.SigType != packet.SigTypeBinary && sig.SigType != packet.SigTypeText {
		return nil, fmt.Errorf("parsing signature: %w: signature type %#x is not a document signature", ErrGarbageSignature, sig.SigType)
	}
	if sig.IssuerKeyId == nil && len(sig.IssuerFingerprint) == 0 {
		return nil, fmt.Errorf("parsing signature: %w: it names no issuer key", ErrGarbageSignature)
	}
	switch sig.Hash {
	case crypto.MD5, crypto.SHA1, crypto.RIPEMD160, crypto.SHA224:
		return nil, fmt.Errorf("parsing signature: %w (%s)", ErrWeakDigest, sig.Hash)
	}
	if !sig.Hash.Available() {
		return nil, fmt.Errorf("parsing signature: %w: digest %s not available", ErrGarbageSignature, sig.Hash)
	}
	return &Signature{pkt: sig}, nil
}

// rawHashOctet finds the hash algorithm octet of a serialized signature
// packet (RFC 9580 sections 4.2 and 5.2).
func rawHashOctet(p []byte) (byte, bool) {
	if len(p) < 2 || p[0]&0x80 == 0 {
		return 0, false
	}
	var tag byte
	var hdr int
	if p[0]&0x40 != 0 { // new format
		tag = p[0] & 0x3f
		switch l := p[1]; {
		case l < 192:
			hdr = 2
		case l < 224:
			hdr = 3
		case l == 255:
			hdr = 6
		default: // partial body length: the first part follows
			hdr = 2
		}
	} else { // legacy format
		tag = (p[0] >> 2) & 0x0f
		switch p[0] & 3 {
		case 0:
			hdr = 2
		case 1:
			hdr = 3
		case 2:
			hdr = 5
		default:
			hdr = 1
		}
	}
	if tag != 2 || len(p) <= hdr {
		return 0, false
	}
	body := p[hdr:]
	switch body[0] {
	case 2, 3: // version, 5, type, time(4), key ID(8), public-key algorithm, hash
		if len(body) > 16 {
			return body[16], true
		}
	case 4, 5, 6: // version, type, public-key algorithm, hash
		if len(body) > 3 {
			return body[3], true
		}
	}
	return 0, false
}

// Hash returns the digest algorithm the signature was made with.
func (s *Signature) Hash() crypto.Hash { return s.pkt.Hash }

// Created returns the signature's creation time.
func (s *Signature) Created() time.Time { return s.pkt.CreationTime }

// IssuerKeyID returns the signing key's ID as 16 lowercase hex digits, or ""
// when the signature names only a fingerprint.
func (s *Signature) IssuerKeyID() string {
	if s.pkt.IssuerKeyId == nil {
		return ""
	}
	return formatKeyID(*s.pkt.IssuerKeyId)
}

// IssuerFingerprint returns the signing key's fingerprint in lowercase hex,
// or "" when the signature does not carry it.
func (s *Signature) IssuerFingerprint() string {
	return hex.EncodeToString(s.pkt.IssuerFingerprint)
}

// NewHash returns the hash to feed with the signed bytes, exactly as
// downloaded, before calling Verify. Text-mode signatures get a hash that
// canonicalizes line endings as it goes.
func (s *Signature) NewHash() hash.Hash {
	h, err := s.pkt.PrepareVerify()
	if err != nil {
		// ParseSignature checked that the digest is available; only a v6
		// signature without a salt gets here, and it cannot verify.
		h = s.pkt.Hash.New()
	}
	if s.pkt.SigType == packet.SigTypeText {
		return &textHash{Hash: openpgp.NewCanonicalTextHash(h), inner: h}
	}
	return h
}

// textHash canonicalizes what is written and keeps the digest underneath,
// which is what the signature check needs.
type textHash struct {
	hash.Hash
	inner hash.Hash
}

// Verdict says which trusted key verified a signature for which image.
type Verdict struct {
	Name        string // the image name
	Fingerprint string // the trusted primary key
	SignerKeyID string // the key (primary or subkey) that made the signature
	UserID      string // the primary identity of the trusted key
	Prefix      string // the prefix that trusts the key; "" = root.d
	KeyPath     string // the file holding the trusted key
}

// Verify checks that sig, over the bytes fed into signed (from NewHash), was
// made for image name by a key trusted for name, valid at now. A signature
// by a signing subkey of a trusted key counts as one by the key.
//
// Refusals: *UnknownSignerError when no key in the keyring of name made the
// signature; a *SignatureError wrapping ErrBadSignature, ErrKeyRevoked,
// ErrKeyExpired, ErrSignatureExpired or ErrSignatureInFuture otherwise.
// Verify consumes signed: it cannot be fed or verified again.
func (ks *Keystore) Verify(name string, sig *Signature, signed hash.Hash, now time.Time) (*Verdict, error) {
	if sig == nil || signed == nil {
		return nil, fmt.Errorf("verifying signature of %q: no signature or no hash given", name)
	}
	keys, searched, err := ks.keyring(name)
	if err != nil {
		return nil, fmt.Errorf("verifying signature of %q: %w", name, err)
	}
	var cands []candidate
	for _, tk := range keys {
		if c, ok := matchIssuer(tk, sig.pkt); ok {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return nil, ks.unknownSigner(name, sig, searched)
	}
	cands = mostSpecificPerKey(cands)

	inner := signed
	if th, ok := signed.(*textHash); ok {
		inner = th.inner
	}
	if inner.Size() != sig.pkt.Hash.Size() {
		return nil, fmt.Errorf("verifying signature of %q: the hash given is %d bytes long, the signature uses %s: %w",
			name, inner.Size(), sig.pkt.Hash, ErrBadSignature)
	}

	// Distinct keys with the same key ID are vanishingly rare; trying more
	// than one needs the hash state saved between attempts.
	var state []byte
	if len(cands) > 1 {
		if m, ok := inner.(encoding.BinaryMarshaler); ok {
			state, _ = m.MarshalBinary()
		}
		if state == nil {
			cands = cands[:1]
		}
	}
	var firstErr error
	for i, c := range cands {
		if i > 0 {
			if err := inner.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
				break
			}
		}
		v, err := c.verify(name, sig.pkt, inner, now)
		if err == nil {
			return v, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// candidate is a trusted key one of whose keys matches the issuer.
type candidate struct {
	tk     trustedKey
	pub    *packet.PublicKey
	subkey *openpgp.Subkey // nil when the primary key signed
}

func matchIssuer(tk trustedKey, sig *packet.Signature) (candidate, bool) {
	e := tk.key.Entity
	if issuerMatches(sig, e.PrimaryKey) {
		return candidate{tk: tk, pub: e.PrimaryKey}, true
	}
	for i := range e.Subkeys {
		if issuerMatches(sig, e.Subkeys[i].PublicKey) {
			return candidate{tk: tk, pub: e.Subkeys[i].PublicKey, subkey: &e.Subkeys[i]}, true
		}
	}
	return candidate{}, false
}

func issuerMatches(sig *packet.Signature, pk *packet.PublicKey) bool {
	if len(sig.IssuerFingerprint) > 0 {
		return bytes.Equal(sig.IssuerFingerprint, pk.Fingerprint)
	}
	return sig.IssuerKeyId != nil && *sig.IssuerKeyId == pk.KeyId
}

// mostSpecificPerKey keeps one candidate per trusted key: the one with the
// longest prefix, local before system at equal prefixes.
func mostSpecificPerKey(cands []candidate) []candidate {
	best := map[string]int{}
	var order []string
	for i, c := range cands {
		fpr := c.tk.key.Fingerprint + "/" + hex.EncodeToString(c.pub.Fingerprint)
		j, seen := best[fpr]
		if !seen {
			order = append(order, fpr)
			best[fpr] = i
			continue
		}
		if len(c.tk.prefix) >= len(cands[j].tk.prefix) {
			best[fpr] = i
		}
	}
	out := make([]candidate, 0, len(order))
	for _, f := range order {
		out = append(out, cands[best[f]])
	}
	return out
}

func (c candidate) verify(name string, sig *packet.Signature, signed hash.Hash, now time.Time) (*Verdict, error) {
	e := c.tk.key.Entity
	refuse := func(err error) error {
		return &SignatureError{Name: name, Fingerprint: c.tk.key.Fingerprint, Prefix: c.tk.prefix, KeyPath: c.tk.path, Err: err}
	}
	signer := formatKeyID(c.pub.KeyId)

	// The bytes first: a tampered image is reported as such whatever the
	// state of the key.
	if err := c.pub.VerifySignature(signed, sig); err != nil {
		return nil, refuse(fmt.Errorf("%w: %v", ErrBadSignature, err))
	}
	for _, n := range sig.Notations {
		if n.IsCritical {
			return nil, refuse(fmt.Errorf("%w: unknown critical notation %q", ErrBadSignature, n.Name))
		}
	}

	if err := checkStrength(e); err != nil {
		return nil, refuse(fmt.Errorf("%w; stop trusting it with rkt trust %s --remove %s and trust a stronger key",
			err, trustScopeFlag(c.tk.prefix), c.tk.key.Fingerprint))
	}

	primarySig, primaryID := e.PrimarySelfSignature()
	if primarySig == nil {
		return nil, refuse(fmt.Errorf("%w: the key has no valid self-signature", ErrBadSignature))
	}
	if e.Revoked(now) || (primaryID != nil && primaryID.Revoked(now)) {
		return nil, refuse(ErrKeyRevoked)
	}
	if c.subkey != nil && c.subkey.Revoked(now) {
		return nil, refuse(fmt.Errorf("%w: signing subkey %s", ErrKeyRevoked, signer))
	}
	if e.PrimaryKey.KeyExpired(primarySig, now) || primarySig.SigExpired(now) {
		return nil, refuse(fmt.Errorf("%w%s", ErrKeyExpired, expiryText(e.PrimaryKey, primarySig)))
	}
	if c.subkey != nil {
		if c.subkey.PublicKey.KeyExpired(c.subkey.Sig, now) || c.subkey.Sig.SigExpired(now) {
			return nil, refuse(fmt.Errorf("%w: signing subkey %s%s", ErrKeyExpired, signer, expiryText(c.subkey.PublicKey, c.subkey.Sig)))
		}
		if !keyFlagsAllowSigning(c.subkey.Sig, false) {
			return nil, refuse(fmt.Errorf("%w: subkey %s is not allowed to sign", ErrBadSignature, signer))
		}
	} else if !keyFlagsAllowSigning(primarySig, true) {
		return nil, refuse(fmt.Errorf("%w: the primary key is not allowed to sign data", ErrBadSignature))
	}

	if sig.CreationTime.After(now.Add(MaxClockSkew)) {
		return nil, refuse(fmt.Errorf("%w: dated %s", ErrSignatureInFuture, sig.CreationTime.UTC().Format(time.RFC3339)))
	}
	if sig.SigLifetimeSecs != nil && *sig.SigLifetimeSecs != 0 {
		exp := sig.CreationTime.Add(time.Duration(*sig.SigLifetimeSecs) * time.Second)
		if now.After(exp) {
			return nil, refuse(fmt.Errorf("%w on %s", ErrSignatureExpired, exp.UTC().Format(time.RFC3339)))
		}
	}
	if sig.CreationTime.Before(c.pub.CreationTime) {
		return nil, refuse(fmt.Errorf("%w: dated before the key %s was created", ErrBadSignature, signer))
	}

	v := &Verdict{
		Name:        name,
		Fingerprint: c.tk.key.Fingerprint,
		SignerKeyID: signer,
		Prefix:      c.tk.prefix,
		KeyPath:     c.tk.path,
	}
	if primaryID != nil {
		v.UserID = primaryID.Name
	}
	return v, nil
}

func expiryText(pk *packet.PublicKey, sig *packet.Signature) string {
	if sig.KeyLifetimeSecs == nil || *sig.KeyLifetimeSecs == 0 {
		return ""
	}
	exp := pk.CreationTime.Add(time.Duration(*sig.KeyLifetimeSecs) * time.Second)
	return " on " + exp.UTC().Format(time.RFC3339)
}

// unknownSigner builds the refusal for a signer outside the keyring of
// name, saying where else the key is trusted, if anywhere.
func (ks *Keystore) unknownSigner(name string, sig *Signature, searched []string) error {
	e := &UnknownSignerError{
		Name:        name,
		KeyID:       sig.IssuerKeyID(),
		Fingerprint: sig.IssuerFingerprint(),
		Searched:    searched,
	}
	if all, err := ks.allKeys(); err == nil {
		seen := map[string]bool{}
		for _, tk := range all {
			if _, ok := matchIssuer(tk, sig.pkt); ok && !seen[tk.prefix] {
				seen[tk.prefix] = true
				e.TrustedFor = append(e.TrustedFor, tk.prefix)
				if e.TrustedPath == "" {
					e.TrustedPath = tk.path
					e.TrustedKey = tk.key.Fingerprint
				}
			}
		}
	}
	return e
}

// allKeys loads every key in effect that can be read, for diagnostics.
func (ks *Keystore) allKeys() ([]trustedKey, error) {
	prefixes, err := ks.prefixes()
	if err != nil {
		return nil, err
	}
	var out []trustedKey
	for _, p := range prefixes {
		keys, _, err := ks.keysIn(p)
		if err != nil {
			return nil, err
		}
		out = append(out, keys...)
	}
	return out, nil
}

// trustScopeFlag is the rkt trust flag that selects prefix.
func trustScopeFlag(prefix string) string {
	if prefix == "" {
		return "--root"
	}
	return "--prefix " + prefix
}
