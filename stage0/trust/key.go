package trust

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Key is one public key as given to `rkt trust`: an OpenPGP key (Entity
// set), or a PEM public key as cosign writes it (Public set), which signs
// OCI images only.
type Key struct {
	// Fingerprint is the lowercase hex of the OpenPGP primary key's
	// fingerprint, or of the SHA-256 of a PEM key's DER
	// SubjectPublicKeyInfo.
	Fingerprint string
	UserIDs     []string
	Created     time.Time
	Expires     *time.Time // nil: never
	Entity      *openpgp.Entity
	Public      *ecdsa.PublicKey

	raw []byte // the bytes parsed, stored as given by Add
}

// ParseKey reads one public key, armored or binary. It refuses data holding
// no key or several, private keys, weak keys (see MinKeyBits), and keys that
// are revoked or expired now.
func ParseKey(data []byte) (*Key, error) {
	k, err := readKey(data)
	if err != nil {
		return nil, fmt.Errorf("parsing key: %w", err)
	}
	if err := k.strength(); err != nil {
		return nil, fmt.Errorf("parsing key %s: %w", k.Fingerprint, err)
	}
	if k.Entity == nil {
		return k, nil
	}
	now := time.Now()
	if k.Entity.Revoked(now) {
		return nil, fmt.Errorf("parsing key %s: %w", k.Fingerprint, ErrKeyRevoked)
	}
	if k.Expires != nil && now.After(*k.Expires) {
		return nil, fmt.Errorf("parsing key %s: %w on %s", k.Fingerprint, ErrKeyExpired, k.Expires.UTC().Format(time.RFC3339))
	}
	return k, nil
}

// readKey parses without judging validity: a trusted key that expired since
// it was added must still load, so that Verify can say it expired. The data
// must hold exactly one key: one armored block (or binary packets) whose
// only public-key packet is the first, with nothing after it but that key's
// user IDs, signatures and subkeys.
func readKey(data []byte) (*Key, error) {
	if isPEMPublicKey(data) {
		return readPEMKey(data)
	}
	raw := data
	if isArmored(data) {
		if err := checkOneArmoredBlock(data, openpgp.PublicKeyType); err != nil {
			if errors.Is(err, errArmorType) && bytes.Contains(data, []byte("-----BEGIN "+openpgp.PrivateKeyType)) {
				return nil, ErrPrivateKey
			}
			return nil, err
		}
		block, err := armor.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("decoding armor: %w", err)
		}
		if raw, err = io.ReadAll(block.Body); err != nil {
			return nil, fmt.Errorf("decoding armor: %w", err)
		}
	}
	if err := checkOneKeyPackets(raw); err != nil {
		return nil, err
	}
	packets := packet.NewReader(bytes.NewReader(raw))
	e, err := openpgp.ReadEntity(packets)
	if err != nil {
		return nil, err
	}
	if p, err := packets.Next(); err != io.EOF {
		if err != nil {
			return nil, fmt.Errorf("after the key: %w", err)
		}
		return nil, fmt.Errorf("%w: a %T packet follows the key", ErrNotOneKey, p)
	}
	if e.PrivateKey != nil {
		return nil, ErrPrivateKey
	}
	for _, sk := range e.Subkeys {
		if sk.PrivateKey != nil {
			return nil, ErrPrivateKey
		}
	}
	k := &Key{
		Fingerprint: hex.EncodeToString(e.PrimaryKey.Fingerprint),
		Created:     e.PrimaryKey.CreationTime,
		Entity:      e,
		raw:         data,
	}
	for name := range e.Identities {
		k.UserIDs = append(k.UserIDs, name)
	}
	sort.Strings(k.UserIDs)
	if primary := e.PrimaryIdentity(); primary != nil && len(k.UserIDs) > 1 {
		// The primary identity first, the others in order.
		rest := k.UserIDs[:0:0]
		for _, u := range k.UserIDs {
			if u != primary.Name {
				rest = append(rest, u)
			}
		}
		k.UserIDs = append([]string{primary.Name}, rest...)
	}
	if sig, _ := e.PrimarySelfSignature(); sig != nil && sig.KeyLifetimeSecs != nil && *sig.KeyLifetimeSecs != 0 {
		exp := e.PrimaryKey.CreationTime.Add(time.Duration(*sig.KeyLifetimeSecs) * time.Second)
		k.Expires = &exp
	}
	return k, nil
}

func isArmored(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("-----BEGIN "))
}

var errArmorType = errors.New("wrong armored block type")

// checkOneArmoredBlock accepts data holding exactly one armored block of
// type typ and nothing after its END line but white space: armor.Decode
// reads the first block only, and a second one would be silently ignored.
func checkOneArmoredBlock(data []byte, typ string) error {
	begins := bytes.Count(data, []byte("-----BEGIN "))
	if begins > 1 {
		return fmt.Errorf("%w: found %d armored blocks", ErrNotOneKey, begins)
	}
	head := []byte("-----BEGIN " + typ + "-----")
	if !bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), head) {
		line, _, _ := bytes.Cut(bytes.TrimLeft(data, " \t\r\n"), []byte("\n"))
		return fmt.Errorf("%w: armored block is %q, not %q", errArmorType, bytes.TrimSpace(line), typ)
	}
	tail := []byte("-----END " + typ + "-----")
	i := bytes.Index(data, tail)
	if i < 0 {
		return fmt.Errorf("decoding armor: no %q line", tail)
	}
	if rest := bytes.TrimSpace(data[i+len(tail):]); len(rest) > 0 {
		return fmt.Errorf("%w: %d bytes of data after the armored block", ErrNotOneKey, len(rest))
	}
	return nil
}

// OpenPGP packet tags (RFC 9580 section 5).
const (
	tagSignature = 2
	tagSecretKey = 5
	tagPublicKey = 6
)

// packetTags lists the tags of the packets in raw, reading only their
// headers. Partial body lengths, which only data packets may use, are
// refused.
func packetTags(raw []byte) ([]byte, error) {
	var tags []byte
	for len(raw) > 0 {
		hdr, n, tag, err := packetHeader(raw)
		if err != nil {
			return nil, err
		}
		if uint64(len(raw)-hdr) < n {
			return nil, fmt.Errorf("packet %d (tag %d) is truncated", len(tags)+1, tag)
		}
		tags = append(tags, tag)
		raw = raw[hdr+int(n):]
	}
	return tags, nil
}

// packetHeader decodes the header at the start of p: its length, the body
// length and the tag.
func packetHeader(p []byte) (hdr int, n uint64, tag byte, err error) {
	if len(p) < 2 || p[0]&0x80 == 0 {
		return 0, 0, 0, errors.New("not an OpenPGP packet")
	}
	if p[0]&0x40 != 0 { // new format
		tag = p[0] & 0x3f
		switch l := p[1]; {
		case l < 192:
			return 2, uint64(l), tag, nil
		case l < 224:
			if len(p) < 3 {
				break
			}
			return 3, (uint64(l)-192)<<8 + uint64(p[2]) + 192, tag, nil
		case l == 255:
			if len(p) < 6 {
				break
			}
			return 6, uint64(p[2])<<24 | uint64(p[3])<<16 | uint64(p[4])<<8 | uint64(p[5]), tag, nil
		default:
			return 0, 0, tag, fmt.Errorf("packet (tag %d) has a partial body length", tag)
		}
		return 0, 0, tag, errors.New("truncated packet header")
	}
	tag = (p[0] >> 2) & 0x0f
	switch p[0] & 3 {
	case 0:
		return 2, uint64(p[1]), tag, nil
	case 1:
		if len(p) >= 3 {
			return 3, uint64(p[1])<<8 | uint64(p[2]), tag, nil
		}
	case 2:
		if len(p) >= 5 {
			return 5, uint64(p[1])<<24 | uint64(p[2])<<16 | uint64(p[3])<<8 | uint64(p[4]), tag, nil
		}
	default: // indeterminate length: to the end of the data
		return 1, uint64(len(p) - 1), tag, nil
	}
	return 0, 0, tag, errors.New("truncated packet header")
}

// checkOneKeyPackets accepts raw packets that start with the one public-key
// packet they hold: the library would skip a second key of an algorithm it
// does not support, and the file would seem to hold one.
func checkOneKeyPackets(raw []byte) error {
	tags, err := packetTags(raw)
	if err != nil {
		return fmt.Errorf("reading key packets: %w", err)
	}
	keys := 0
	for _, t := range tags {
		switch t {
		case tagSecretKey:
			return ErrPrivateKey
		case tagPublicKey:
			keys++
		}
	}
	if keys != 1 {
		return fmt.Errorf("%w (found %d)", ErrNotOneKey, keys)
	}
	if tags[0] != tagPublicKey {
		return fmt.Errorf("%w: the first packet (tag %d) is not a public key", ErrNotOneKey, tags[0])
	}
	return nil
}

// storedForm returns the bytes Add writes: the data the key was parsed from,
// or the armored public key when the Key was built around an Entity.
func (k *Key) storedForm() ([]byte, error) {
	if len(k.raw) > 0 {
		return k.raw, nil
	}
	if k.Entity == nil {
		return nil, fmt.Errorf("key %s has no key material", k.Fingerprint)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := k.Entity.Serialize(w); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// FingerprintReview renders what `rkt trust` shows on a terminal before it
// asks whether to trust a key:
//
//	gpg key fingerprint is: F572 EDDB 0DBB 8A1B 8E0F  3E3F 0443 5D81 1541 3671
//		Example Signer <signer@example.com>
func FingerprintReview(k *Key) string {
	var b strings.Builder
	if k.Public != nil {
		fmt.Fprintf(&b, "public key (%s) sha256 fingerprint is: %s\n", k.Kind(), groupFingerprint(k.Fingerprint))
		return b.String()
	}
	fmt.Fprintf(&b, "gpg key fingerprint is: %s\n", groupFingerprint(k.Fingerprint))
	for _, u := range k.UserIDs {
		fmt.Fprintf(&b, "\t%s\n", u)
	}
	return b.String()
}

// groupFingerprint writes a fingerprint as gpg does: upper case, groups of
// four digits, and an extra space between the two halves.
func groupFingerprint(fpr string) string {
	fpr = strings.ToUpper(fpr)
	var b strings.Builder
	half := len(fpr) / 2
	for i := 0; i < len(fpr); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
			if i == half {
				b.WriteByte(' ')
			}
		}
		end := min(i+4, len(fpr))
		b.WriteString(fpr[i:end])
	}
	return b.String()
}

// signingKeyID formats a key ID as 16 lowercase hex digits.
func formatKeyID(id uint64) string {
	return fmt.Sprintf("%016x", id)
}

// keyFlagsAllowSigning reports whether a self-signature lets its key sign
// data. A key whose self-signature carries no flags at all is allowed, as gpg
// does, when it is the primary key and its algorithm can sign.
func keyFlagsAllowSigning(sig *packet.Signature, primary bool) bool {
	if sig == nil {
		return false
	}
	if !sig.FlagsValid {
		return primary
	}
	return sig.FlagSign
}

// MinKeyBits is the smallest RSA, DSA or ElGamal key accepted, as in
// today's common policies (NIST SP 800-131A, gpg's compliance modes).
// Elliptic-curve keys are accepted on every curve the library supports
// (Ed25519, Ed448, NIST P-256 and up, Brainpool): all are 256 bits or more.
const MinKeyBits = 2048

// checkStrength refuses an entity whose primary key or any subkey is an
// RSA, DSA or ElGamal key under MinKeyBits: a key is trusted whole, and a
// weak part of it is a reason to replace it.
func checkStrength(e *openpgp.Entity) error {
	if e == nil {
		return nil
	}
	if err := checkKeyBits(e.PrimaryKey); err != nil {
		return err
	}
	for _, sk := range e.Subkeys {
		if err := checkKeyBits(sk.PublicKey); err != nil {
			return fmt.Errorf("subkey %s: %w", formatKeyID(sk.PublicKey.KeyId), err)
		}
	}
	return nil
}

func checkKeyBits(pk *packet.PublicKey) error {
	var alg string
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSAEncryptOnly, packet.PubKeyAlgoRSASignOnly:
		alg = "RSA"
	case packet.PubKeyAlgoDSA:
		alg = "DSA"
	case packet.PubKeyAlgoElGamal:
		alg = "ElGamal"
	default:
		return nil
	}
	bits, err := pk.BitLength()
	if err != nil {
		return fmt.Errorf("%w: %s key of unknown size: %v", ErrWeakKey, alg, err)
	}
	if bits < MinKeyBits {
		return fmt.Errorf("%w: %s %d bits, under %d", ErrWeakKey, alg, bits, MinKeyBits)
	}
	return nil
}
