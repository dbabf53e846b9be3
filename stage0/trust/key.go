package trust

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Key is one public OpenPGP key as given to `rkt trust`.
type Key struct {
	Fingerprint string // lowercase hex of the primary key's fingerprint
	UserIDs     []string
	Created     time.Time
	Expires     *time.Time // nil: never
	Entity      *openpgp.Entity

	raw []byte // the bytes parsed, stored as given by Add
}

// ParseKey reads one public key, armored or binary. It refuses data holding
// no key or several, private keys, and keys that are revoked or expired now.
func ParseKey(data []byte) (*Key, error) {
	k, err := readKey(data)
	if err != nil {
		return nil, fmt.Errorf("parsing key: %w", err)
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
// it was added must still load, so that Verify can say it expired.
func readKey(data []byte) (*Key, error) {
	body := io.Reader(bytes.NewReader(data))
	if isArmored(data) {
		block, err := armor.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("decoding armor: %w", err)
		}
		if block.Type == openpgp.PrivateKeyType {
			return nil, ErrPrivateKey
		}
		if block.Type != openpgp.PublicKeyType {
			return nil, fmt.Errorf("armored block is %q, not %q", block.Type, openpgp.PublicKeyType)
		}
		body = block.Body
	}
	ring, err := openpgp.ReadKeyRing(body)
	if err != nil {
		return nil, err
	}
	if len(ring) != 1 {
		return nil, fmt.Errorf("%w (found %d)", ErrNotOneKey, len(ring))
	}
	e := ring[0]
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
