package fetch

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rkt/rkt/stage0/ocisig"
	"github.com/rkt/rkt/stage0/trust"
)

// An image from a layout or archive that names no docker reference has no
// trust name: it is refused before any signature is looked for, and the
// refusal says how to name it or how to skip the check.
func TestOCISignaturesNeedATrustName(t *testing.T) {
	verify := OCISignatures(trust.New(t.TempDir(), t.TempDir()), ocisig.Options{RegistriesDirs: []string{t.TempDir()}})
	for _, ref := range []string{"", "1.0"} {
		err := verify(context.Background(), OCIVerifyRequest{Reference: "oci:/images/app", ManifestDigest: "sha256:" + strings.Repeat("0", 64), Layout: t.TempDir(), LayoutRef: ref})
		if !errors.Is(err, ErrOCIUnsigned) {
			t.Fatalf("ref %q: %v, want ErrOCIUnsigned", ref, err)
		}
		for _, w := range []string{"REGISTRY/REPOSITORY:TAG", "--insecure-options=image"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ref %q: %q does not say %q", ref, err, w)
			}
		}
	}
}
