package ocisig

import (
	"errors"
	"fmt"
	"strings"
)

// Refusals of a signature that verified cryptographically but does not
// bind the image pulled, and of images without any signature.
var (
	// ErrNoSignature: no signature of either format was found.
	ErrNoSignature = errors.New("no signature found")
	// ErrDigestMismatch: the signature is for another manifest digest.
	ErrDigestMismatch = errors.New("signature is for another manifest digest")
	// ErrIdentityMismatch: the signature is for another reference.
	ErrIdentityMismatch = errors.New("signature is for another reference")
	// ErrBadPayload: the signed payload is not a signature claim.
	ErrBadPayload = errors.New("signed payload is not a container signature claim")
)

// RefusedError lists why each signature found was refused.
type RefusedError struct {
	Reference string
	Refusals  []error // one per signature, each naming its source
}

func (e *RefusedError) Error() string {
	if len(e.Refusals) == 1 {
		return fmt.Sprintf("verifying signatures of %s: %v", e.Reference, e.Refusals[0])
	}
	parts := make([]string, len(e.Refusals))
	for i, r := range e.Refusals {
		parts[i] = r.Error()
	}
	return fmt.Sprintf("verifying signatures of %s: none of %d signatures is accepted: %s",
		e.Reference, len(e.Refusals), strings.Join(parts, "; "))
}

// Unwrap lets errors.Is and errors.As see every refusal.
func (e *RefusedError) Unwrap() []error { return e.Refusals }
