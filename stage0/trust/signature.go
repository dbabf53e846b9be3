package trust

import (
	"bytes"
	"crypto"
	_ "crypto/sha256" // digests a signature may name
	_ "crypto/sha3"
	_ "crypto/sha512"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"errors"
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

// MaxSignatures is how many signatures one signature file may hold: enough
// for a key rotation or two signers, small enough that a hostile file cannot
// make the image be hashed many times over.
const MaxSignatures = 8

// Signature is a parsed detached OpenPGP signature file over an image: one
// or more signatures (several while keys rotate, or with several signers).
type Signature struct {
	entries []sigEntry
	// digests are the distinct hash contexts the usable signatures need:
	// one per digest algorithm and signature type, one per v6 signature
	// (whose salt starts its hash).
	digests []*packet.Signature // a signature of each context
}

// sigEntry is one signature of the file.
type sigEntry struct {
	pkt    *packet.Signature // nil for a weak-digest packet the library cannot parse
	weak   string            // the weak digest's name; "" when usable
	digest int               // index into Signature.digests; -1 when weak
}

// weakDigests maps the OpenPGP hash algorithm octets refused by
// ParseSignature to their names.
var weakDigests = map[byte]string{
	1:  "MD5",
	2:  "SHA-1",
	3:  "RIPEMD-160",
	11: "SHA-224",
}

// ParseSignature reads a detached signature file: one or more signature
// packets, binary, or armored in one or more SIGNATURE blocks. Anything
// else in the file (another packet, a malformed signature, text between
// blocks, more than MaxSignatures) makes it ErrGarbageSignature. A
// signature over MD5, SHA-1, RIPEMD-160 or SHA-224 is kept but never
// accepted; a file holding only such signatures gives ErrWeakDigest.
func ParseSignature(data []byte) (*Signature, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("parsing signature: %w: empty", ErrGarbageSignature)
	}
	raw := data
	if isArmored(data) {
		var err error
		if raw, err = dearmorSignatures(data); err != nil {
			return nil, fmt.Errorf("parsing signature: %w: %v", ErrGarbageSignature, err)
		}
	}
	var pkts [][]byte
	for rest := raw; len(rest) > 0; {
		hdr, n, tag, err := packetHeader(rest)
		if err == nil && uint64(len(rest)-hdr) < n {
			err = fmt.Errorf("packet %d is truncated", len(pkts)+1)
		}
		if err != nil {
			return nil, fmt.Errorf("parsing signature: %w: %v", ErrGarbageSignature, err)
		}
		if tag != tagSignature {
			return nil, fmt.Errorf("parsing signature: %w: packet %d has tag %d, not a signature", ErrGarbageSignature, len(pkts)+1, tag)
		}
		pkts = append(pkts, rest[:hdr+int(n)])
		rest = rest[hdr+int(n):]
	}
	if len(pkts) > MaxSignatures {
		return nil, fmt.Errorf("parsing signature: %w: %d signatures, more than %d", ErrGarbageSignature, len(pkts), MaxSignatures)
	}
	s := &Signature{}
	usable := 0
	for i, p := range pkts {
		where := ""
		if len(pkts) > 1 {
			where = fmt.Sprintf(" (signature %d of %d)", i+1, len(pkts))
		}
		e, err := parseOne(p)
		if err != nil {
			return nil, fmt.Errorf("parsing signature%s: %w", where, err)
		}
		if e.weak == "" {
			e.digest = s.digestFor(e.pkt)
			usable++
		}
		s.entries = append(s.entries, e)
	}
	if usable == 0 {
		if len(s.entries) == 1 {
			return nil, fmt.Errorf("parsing signature: %w (%s)", ErrWeakDigest, s.entries[0].weak)
		}
		return nil, fmt.Errorf("parsing signature: %w: all %d signatures use one", ErrWeakDigest, len(s.entries))
	}
	return s, nil
}

// dearmorSignatures decodes one or more armored SIGNATURE blocks, with
// nothing but white space around them, into their packets.
func dearmorSignatures(data []byte) ([]byte, error) {
	begin := []byte("-----BEGIN " + openpgp.SignatureType + "-----")
	end := []byte("-----END " + openpgp.SignatureType + "-----")
	var raw []byte
	rest := bytes.TrimSpace(data)
	for len(rest) > 0 {
		if !bytes.HasPrefix(rest, begin) {
			line, _, _ := bytes.Cut(rest, []byte("\n"))
			if bytes.HasPrefix(line, []byte("-----BEGIN ")) {
				return nil, fmt.Errorf("armored block is %q", bytes.TrimSpace(line))
			}
			return nil, errors.New("data outside the armored blocks")
		}
		i := bytes.Index(rest, end)
		if i < 0 {
			return nil, fmt.Errorf("no %q line", end)
		}
		block, err := armor.Decode(bytes.NewReader(rest[:i+len(end)]))
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(block.Body)
		if err != nil {
			return nil, err
		}
		raw = append(raw, body...)
		rest = bytes.TrimSpace(rest[i+len(end):])
	}
	return raw, nil
}

// parseOne parses one signature packet. A weak digest is named even when
// the library cannot parse the packet (it rejects MD5 and RIPEMD-160
// outright).
func parseOne(raw []byte) (sigEntry, error) {
	weak := ""
	if id, ok := rawHashOctet(raw); ok {
		weak = weakDigests[id]
	}
	p, err := packet.Read(bytes.NewReader(raw))
	if err != nil {
		if weak != "" {
			return sigEntry{weak: weak, digest: -1}, nil
		}
		return sigEntry{}, fmt.Errorf("%w: %v", ErrGarbageSignature, err)
	}
	sig, ok := p.(*packet.Signature)
	if !ok {
		return sigEntry{}, fmt.Errorf("%w: found a %T packet", ErrGarbageSignature, p)
	}
	if sig.SigType != packet.SigTypeBinary && sig.SigType != packet.SigTypeText {
		return sigEntry{}, fmt.Errorf("%w: signature type %#x is not a document signature", ErrGarbageSignature, sig.SigType)
	}
	if sig.IssuerKeyId == nil && len(sig.IssuerFingerprint) == 0 {
		return sigEntry{}, fmt.Errorf("%w: it names no issuer key", ErrGarbageSignature)
	}
	switch sig.Hash {
	case crypto.MD5, crypto.SHA1, crypto.RIPEMD160, crypto.SHA224:
		return sigEntry{pkt: sig, weak: sig.Hash.String(), digest: -1}, nil
	}
	if weak != "" {
		return sigEntry{pkt: sig, weak: weak, digest: -1}, nil
	}
	if !sig.Hash.Available() {
		return sigEntry{}, fmt.Errorf("%w: digest %s not available", ErrGarbageSignature, sig.Hash)
	}
	if _, err := sig.PrepareVerify(); err != nil {
		return sigEntry{}, fmt.Errorf("%w: %v", ErrGarbageSignature, err)
	}
	return sigEntry{pkt: sig}, nil
}

// digestFor returns the index of the hash context sig needs, adding one
// when no earlier signature shares it.
func (s *Signature) digestFor(sig *packet.Signature) int {
	if sig.Version < 6 {
		for i, d := range s.digests {
			if d.Version < 6 && d.Hash == sig.Hash && d.SigType == sig.SigType {
				return i
			}
		}
	}
	s.digests = append(s.digests, sig)
	return len(s.digests) - 1
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

// Len returns how many signatures the file holds.
func (s *Signature) Len() int { return len(s.entries) }

// first is the first usable signature.
func (s *Signature) first() *packet.Signature { return s.digests[0] }

// Hash returns the digest algorithm of the first usable signature. When the
// signatures need more than one hash context, NewHash's hash is not that
// algorithm's.
func (s *Signature) Hash() crypto.Hash { return s.first().Hash }

// Created returns the creation time of the first usable signature.
func (s *Signature) Created() time.Time { return s.first().CreationTime }

// IssuerKeyID returns the first usable signature's key ID as 16 lowercase
// hex digits, or "" when it names only a fingerprint.
func (s *Signature) IssuerKeyID() string {
	if s.first().IssuerKeyId == nil {
		return ""
	}
	return formatKeyID(*s.first().IssuerKeyId)
}

// IssuerFingerprint returns the first usable signature's key fingerprint in
// lowercase hex, or "" when it does not carry it.
func (s *Signature) IssuerFingerprint() string {
	return hex.EncodeToString(s.first().IssuerFingerprint)
}

// NewHash returns the hash to feed with the signed bytes, exactly as
// downloaded, before calling Verify. Text-mode signatures get a hash that
// canonicalizes line endings as it goes. When every usable signature
// shares one hash context (the usual case), it is that algorithm's plain
// hash; otherwise it feeds one hash per context.
func (s *Signature) NewHash() hash.Hash {
	if len(s.digests) == 1 {
		return newDigest(s.digests[0])
	}
	m := &multiHash{parts: make([]hash.Hash, len(s.digests))}
	for i, d := range s.digests {
		m.parts[i] = newDigest(d)
	}
	return m
}

func newDigest(sig *packet.Signature) hash.Hash {
	// ParseSignature checked that PrepareVerify succeeds.
	h, _ := sig.PrepareVerify()
	if sig.SigType == packet.SigTypeText {
		return &textHash{Hash: openpgp.NewCanonicalTextHash(h), inner: h}
	}
	return h
}

// multiHash feeds the same bytes to several hashes. Its Sum is of no use:
// Verify takes the parts apart.
type multiHash struct{ parts []hash.Hash }

func (m *multiHash) Write(p []byte) (int, error) {
	for _, h := range m.parts {
		h.Write(p)
	}
	return len(p), nil
}

func (m *multiHash) Sum(b []byte) []byte {
	for _, h := range m.parts {
		b = h.Sum(b)
	}
	return b
}

func (m *multiHash) Reset() {
	for _, h := range m.parts {
		h.Reset()
	}
}

func (m *multiHash) Size() int {
	n := 0
	for _, h := range m.parts {
		n += h.Size()
	}
	return n
}

func (m *multiHash) BlockSize() int { return m.parts[0].BlockSize() }

// MarshalBinary saves every part's state, each prefixed by its length, so
// that a caller can check the same bytes again (after trusting new keys).
func (m *multiHash) MarshalBinary() ([]byte, error) {
	var out []byte
	for i, h := range m.parts {
		bm, ok := h.(encoding.BinaryMarshaler)
		if !ok {
			return nil, fmt.Errorf("hash %d of %d cannot be saved", i+1, len(m.parts))
		}
		st, err := bm.MarshalBinary()
		if err != nil {
			return nil, err
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(st)))
		out = append(out, st...)
	}
	return out, nil
}

func (m *multiHash) UnmarshalBinary(data []byte) error {
	for i, h := range m.parts {
		if len(data) < 4 || uint64(len(data)-4) < uint64(binary.BigEndian.Uint32(data)) {
			return fmt.Errorf("restoring hash %d of %d: short state", i+1, len(m.parts))
		}
		n := binary.BigEndian.Uint32(data)
		bu, ok := h.(encoding.BinaryUnmarshaler)
		if !ok {
			return fmt.Errorf("hash %d of %d cannot be restored", i+1, len(m.parts))
		}
		if err := bu.UnmarshalBinary(data[4 : 4+n]); err != nil {
			return err
		}
		data = data[4+n:]
	}
	if len(data) != 0 {
		return errors.New("restoring hashes: trailing state")
	}
	return nil
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
// A file of several signatures is accepted when one of them is accepted
// and none is bad. A signature is bad when it is made by a key of the
// keyring of name and does not verify: it does not match the bytes, or the
// key may not make it (ErrBadSignature). A signature by a key outside the
// keyring, or over a weak digest, or by a trusted key that is expired,
// revoked or weak, is not bad: it is only not accepted.
//
// Refusals: *UnknownSignerError when no key in the keyring of name made a
// signature; a *SignatureError wrapping ErrBadSignature, ErrKeyRevoked,
// ErrKeyExpired, ErrWeakKey, ErrWeakDigest, ErrSignatureExpired or
// ErrSignatureInFuture for one signature by a trusted key; a
// *NoAcceptedSignatureError, which unwraps to those, when several
// signatures are refused for different reasons. Verify consumes signed: it
// cannot be fed or verified again.
func (ks *Keystore) Verify(name string, sig *Signature, signed hash.Hash, now time.Time) (*Verdict, error) {
	if sig == nil || signed == nil {
		return nil, fmt.Errorf("verifying signature of %q: no signature or no hash given", name)
	}
	keys, searched, err := ks.keyring(name)
	if err != nil {
		return nil, fmt.Errorf("verifying signature of %q: %w", name, err)
	}
	digests, err := sig.split(name, signed)
	if err != nil {
		return nil, err
	}
	n := len(sig.entries)
	var accepted *Verdict
	var refusals []error
	var unknown []*packet.Signature
	for i, e := range sig.entries {
		var cands []candidate
		if e.pkt != nil {
			for _, tk := range keys {
				if c, ok := matchIssuer(tk, e.pkt); ok {
					cands = append(cands, c)
				}
			}
		}
		switch {
		case len(cands) == 0 && e.pkt != nil:
			unknown = append(unknown, e.pkt)
			continue
		case len(cands) == 0:
			refusals = append(refusals, fmt.Errorf("signature %d of %d: %w (%s)", i+1, n, ErrWeakDigest, e.weak))
			continue
		}
		cands = mostSpecificPerKey(cands)
		if e.weak != "" {
			// Never hashed, so not known to be bad: only not accepted.
			c := cands[0]
			refusals = append(refusals, c.refusal(name, fmt.Errorf("%w (%s)", ErrWeakDigest, e.weak)))
			continue
		}
		v, err := verifyEntry(name, e.pkt, cands, digests[e.digest], now)
		if err == nil {
			if accepted == nil {
				accepted = v
			}
			continue
		}
		if errors.Is(err, ErrBadSignature) {
			// Fail closed: a signature by a trusted key that does not
			// verify means the file, or the image, is not what its
			// signers made.
			if n > 1 {
				return nil, fmt.Errorf("signature %d of %d is bad, so none is accepted: %w", i+1, n, err)
			}
			return nil, err
		}
		refusals = append(refusals, err)
	}
	if accepted != nil {
		return accepted, nil
	}
	if len(unknown) > 0 {
		refusals = append(refusals, ks.unknownSigner(name, unknown, searched))
	}
	if len(refusals) == 1 {
		return nil, refusals[0]
	}
	return nil, &NoAcceptedSignatureError{Name: name, Refusals: refusals}
}

// digestSource hands out copies of one hash context's state, one per
// signature check, since a check writes the signature's trailer into it.
type digestSource struct {
	h     hash.Hash
	algo  crypto.Hash
	state []byte // nil when h cannot be copied: then it serves once
	used  bool
}

func newDigestSource(h hash.Hash, algo crypto.Hash) *digestSource {
	d := &digestSource{h: h, algo: algo}
	if m, ok := h.(encoding.BinaryMarshaler); ok {
		d.state, _ = m.MarshalBinary()
	}
	return d
}

func (d *digestSource) get() (hash.Hash, error) {
	if d.state == nil {
		if d.used {
			return nil, fmt.Errorf("the %s hash cannot be copied for another check", d.algo)
		}
		d.used = true
		return d.h, nil
	}
	h := d.algo.New()
	u, ok := h.(encoding.BinaryUnmarshaler)
	if !ok {
		return nil, fmt.Errorf("the %s hash cannot be restored", d.algo)
	}
	if err := u.UnmarshalBinary(d.state); err != nil {
		return nil, fmt.Errorf("restoring the %s hash: %w", d.algo, err)
	}
	return h, nil
}

// split takes the hash from NewHash apart into one source per context.
func (s *Signature) split(name string, signed hash.Hash) ([]*digestSource, error) {
	parts := []hash.Hash{signed}
	if len(s.digests) > 1 {
		m, ok := signed.(*multiHash)
		if !ok || len(m.parts) != len(s.digests) {
			return nil, fmt.Errorf("verifying signature of %q: the hash given is not the one NewHash returns for its %d digests: %w",
				name, len(s.digests), ErrBadSignature)
		}
		parts = m.parts
	}
	out := make([]*digestSource, len(parts))
	for i, h := range parts {
		if th, ok := h.(*textHash); ok {
			h = th.inner
		}
		want := s.digests[i].Hash
		if h.Size() != want.Size() {
			return nil, fmt.Errorf("verifying signature of %q: the hash given is %d bytes long, the signature uses %s: %w",
				name, h.Size(), want, ErrBadSignature)
		}
		out[i] = newDigestSource(h, want)
	}
	return out, nil
}

// verifyEntry checks one signature against the candidates for its issuer.
// An error from a candidate whose key matched the bytes is preferred: the
// other candidates only share its key ID.
func verifyEntry(name string, sig *packet.Signature, cands []candidate, src *digestSource, now time.Time) (*Verdict, error) {
	var firstErr, matchedErr error
	for _, c := range cands {
		h, err := src.get()
		if err != nil {
			if firstErr == nil {
				firstErr = c.refusal(name, fmt.Errorf("%w: %v", ErrBadSignature, err))
			}
			break
		}
		v, bytesOK, err := c.verify(name, sig, h, now)
		if err == nil {
			return v, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if bytesOK && matchedErr == nil {
			matchedErr = err
		}
	}
	if matchedErr != nil {
		return nil, matchedErr
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
	if e == nil { // a PEM key signs no OpenPGP signature
		return candidate{}, false
	}
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

func (c candidate) refusal(name string, err error) error {
	return &SignatureError{Name: name, Fingerprint: c.tk.key.Fingerprint, Prefix: c.tk.prefix, KeyPath: c.tk.path, Err: err}
}

// verify checks sig over signed with the candidate key, then the key's and
// the signature's validity. bytesOK says whether the signature matched the
// bytes, whatever came after.
func (c candidate) verify(name string, sig *packet.Signature, signed hash.Hash, now time.Time) (_ *Verdict, bytesOK bool, _ error) {
	e := c.tk.key.Entity
	refuse := func(err error) error { return c.refusal(name, err) }
	signer := formatKeyID(c.pub.KeyId)

	// The bytes first: a tampered image is reported as such whatever the
	// state of the key.
	if err := c.pub.VerifySignature(signed, sig); err != nil {
		return nil, false, refuse(fmt.Errorf("%w: %v", ErrBadSignature, err))
	}
	for _, n := range sig.Notations {
		if n.IsCritical {
			return nil, true, refuse(fmt.Errorf("%w: unknown critical notation %q", ErrBadSignature, n.Name))
		}
	}

	if err := checkStrength(e); err != nil {
		return nil, true, refuse(fmt.Errorf("%w; stop trusting it with rkt trust %s --remove %s and trust a stronger key",
			err, trustScopeFlag(c.tk.prefix), c.tk.key.Fingerprint))
	}

	primarySig, primaryID := e.PrimarySelfSignature()
	if primarySig == nil {
		return nil, true, refuse(fmt.Errorf("%w: the key has no valid self-signature", ErrBadSignature))
	}
	if e.Revoked(now) || (primaryID != nil && primaryID.Revoked(now)) {
		return nil, true, refuse(ErrKeyRevoked)
	}
	if c.subkey != nil && c.subkey.Revoked(now) {
		return nil, true, refuse(fmt.Errorf("%w: signing subkey %s", ErrKeyRevoked, signer))
	}
	if e.PrimaryKey.KeyExpired(primarySig, now) || primarySig.SigExpired(now) {
		return nil, true, refuse(fmt.Errorf("%w%s", ErrKeyExpired, expiryText(e.PrimaryKey, primarySig)))
	}
	if c.subkey != nil {
		if c.subkey.PublicKey.KeyExpired(c.subkey.Sig, now) || c.subkey.Sig.SigExpired(now) {
			return nil, true, refuse(fmt.Errorf("%w: signing subkey %s%s", ErrKeyExpired, signer, expiryText(c.subkey.PublicKey, c.subkey.Sig)))
		}
		if !keyFlagsAllowSigning(c.subkey.Sig, false) {
			return nil, true, refuse(fmt.Errorf("%w: subkey %s is not allowed to sign", ErrBadSignature, signer))
		}
	} else if !keyFlagsAllowSigning(primarySig, true) {
		return nil, true, refuse(fmt.Errorf("%w: the primary key is not allowed to sign data", ErrBadSignature))
	}

	if sig.CreationTime.After(now.Add(MaxClockSkew)) {
		return nil, true, refuse(fmt.Errorf("%w: dated %s", ErrSignatureInFuture, sig.CreationTime.UTC().Format(time.RFC3339)))
	}
	if sig.SigLifetimeSecs != nil && *sig.SigLifetimeSecs != 0 {
		exp := sig.CreationTime.Add(time.Duration(*sig.SigLifetimeSecs) * time.Second)
		if now.After(exp) {
			return nil, true, refuse(fmt.Errorf("%w on %s", ErrSignatureExpired, exp.UTC().Format(time.RFC3339)))
		}
	}
	if sig.CreationTime.Before(c.pub.CreationTime) {
		return nil, true, refuse(fmt.Errorf("%w: dated before the key %s was created", ErrBadSignature, signer))
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
	return v, true, nil
}

func expiryText(pk *packet.PublicKey, sig *packet.Signature) string {
	if sig.KeyLifetimeSecs == nil || *sig.KeyLifetimeSecs == 0 {
		return ""
	}
	exp := pk.CreationTime.Add(time.Duration(*sig.KeyLifetimeSecs) * time.Second)
	return " on " + exp.UTC().Format(time.RFC3339)
}

// unknownSigner builds the refusal for signers outside the keyring of
// name, saying where else the first one's key is trusted, if anywhere.
func (ks *Keystore) unknownSigner(name string, sigs []*packet.Signature, searched []string) error {
	e := &UnknownSignerError{Name: name, Searched: searched}
	for i, sig := range sigs {
		id, fpr := "", hex.EncodeToString(sig.IssuerFingerprint)
		if sig.IssuerKeyId != nil {
			id = formatKeyID(*sig.IssuerKeyId)
		}
		if i == 0 {
			e.KeyID, e.Fingerprint = id, fpr
			continue
		}
		if fpr != "" {
			id = fpr
		}
		e.Others = append(e.Others, id)
	}
	if all, err := ks.allKeys(); err == nil {
		seen := map[string]bool{}
		for _, tk := range all {
			if _, ok := matchIssuer(tk, sigs[0]); ok && !seen[tk.prefix] {
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
