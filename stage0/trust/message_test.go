package trust

import (
	"bytes"
	"errors"
	"testing"
)

// The messages in testdata/messages were made by gpg --sign (compressed,
// --compress-algo none, and --armor) over a simple-signing payload.
func TestParseSignedMessage(t *testing.T) {
	for name, data := range readTestdata(t, "messages/*") {
		sig, payload, err := ParseSignedMessage(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if sig.Len() != 1 || !bytes.Contains(payload, []byte(`"atomic container signature"`)) {
			t.Errorf("%s: %d signatures, payload %q", name, sig.Len(), payload)
		}
	}
	for name, data := range map[string][]byte{
		"empty":   nil,
		"json":    []byte(`{"critical":{}}`),
		"too big": make([]byte, MaxMessageSize+1),
	} {
		if _, _, err := ParseSignedMessage(data); !errors.Is(err, ErrGarbageSignature) {
			t.Errorf("%s: %v, want garbage", name, err)
		}
	}
}

// FuzzParseSignedMessage: every refusal is ErrGarbageSignature or
// ErrWeakDigest; what is accepted holds 1 to MaxSignatures signatures and a
// payload within MaxMessageSize.
func FuzzParseSignedMessage(f *testing.F) {
	for _, b := range readTestdata(f, "messages/*") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sig, payload, err := ParseSignedMessage(data)
		if err != nil {
			if !errors.Is(err, ErrGarbageSignature) && !errors.Is(err, ErrWeakDigest) {
				t.Fatalf("refusal %v is neither garbage nor a weak digest", err)
			}
			return
		}
		if sig.Len() < 1 || sig.Len() > MaxSignatures || len(payload) > MaxMessageSize {
			t.Fatalf("accepted %d signatures, payload of %d bytes", sig.Len(), len(payload))
		}
	})
}
