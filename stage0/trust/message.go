package trust

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// MaxMessageSize caps a signed message and its decompressed contents:
// containers/image refuses signatures over 4 MiB too.
const MaxMessageSize = 4 << 20

// ParseSignedMessage takes apart an OpenPGP signed message, as `gpg
// --sign` makes and as containers/image "simple signing" stores: optionally
// compressed, one-pass signature packets, one literal data packet, then the
// signatures. It returns the signatures as a Signature (checked like a
// detached signature file, so Verify applies the same refusals) and the
// literal data they sign. Verify the payload with:
//
//	h := sig.NewHash(); h.Write(payload); ks.Verify(name, sig, h, now)
//
// A message that is not exactly that shape is ErrGarbageSignature.
func ParseSignedMessage(data []byte) (*Signature, []byte, error) {
	if len(data) > MaxMessageSize {
		return nil, nil, fmt.Errorf("parsing signed message: %w: more than %d bytes", ErrGarbageSignature, MaxMessageSize)
	}
	if isArmored(data) {
		if err := checkOneArmoredBlock(data, openpgp.MessageType); err != nil {
			return nil, nil, fmt.Errorf("parsing signed message: %w: %v", ErrGarbageSignature, err)
		}
		block, err := armor.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, nil, fmt.Errorf("parsing signed message: %w: %v", ErrGarbageSignature, err)
		}
		if data, err = io.ReadAll(io.LimitReader(block.Body, MaxMessageSize+1)); err != nil {
			return nil, nil, fmt.Errorf("parsing signed message: %w: %v", ErrGarbageSignature, err)
		}
	}
	sig, payload, err := splitMessage(data, true)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing signed message: %w", err)
	}
	return sig, payload, nil
}

var errMessageShape = errors.New("not a signed message")

// splitMessage reads one level of the message: a compressed packet holding
// the rest (once), or one-pass signatures, literal data and signatures.
func splitMessage(data []byte, mayCompress bool) (*Signature, []byte, error) {
	garbage := func(format string, a ...any) error {
		return fmt.Errorf("%w: %w: %s", ErrGarbageSignature, errMessageShape, fmt.Sprintf(format, a...))
	}
	r := bytes.NewReader(data)
	onePass := 0
	for {
		p, err := packet.Read(r)
		if err != nil {
			return nil, nil, garbage("reading packet: %v", err)
		}
		switch p := p.(type) {
		case *packet.Compressed:
			if !mayCompress || onePass > 0 {
				return nil, nil, garbage("nested or misplaced compressed packet")
			}
			inner, err := io.ReadAll(io.LimitReader(p.Body, MaxMessageSize+1))
			if err != nil {
				return nil, nil, garbage("decompressing: %v", err)
			}
			if len(inner) > MaxMessageSize {
				return nil, nil, garbage("more than %d bytes decompressed", MaxMessageSize)
			}
			if r.Len() != 0 {
				return nil, nil, garbage("%d bytes after the compressed packet", r.Len())
			}
			return splitMessage(inner, false)
		case *packet.OnePassSignature:
			onePass++
			if onePass > MaxSignatures {
				return nil, nil, garbage("more than %d one-pass signatures", MaxSignatures)
			}
		case *packet.LiteralData:
			if onePass == 0 {
				return nil, nil, garbage("literal data without a one-pass signature")
			}
			payload, err := io.ReadAll(p.Body)
			if err != nil {
				return nil, nil, garbage("reading literal data: %v", err)
			}
			// What follows are the signatures, one per one-pass packet,
			// parsed as a detached signature file is.
			rest := data[len(data)-r.Len():]
			sig, err := ParseSignature(rest)
			if err != nil {
				return nil, nil, err
			}
			if sig.Len() != onePass {
				return nil, nil, garbage("%d one-pass signatures but %d signatures", onePass, sig.Len())
			}
			return sig, payload, nil
		default:
			return nil, nil, garbage("unexpected %T packet", p)
		}
	}
}
