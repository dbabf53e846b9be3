package ocisig

import (
	"errors"
	"testing"

	"github.com/rkt/rkt/stage0/trust"
)

// Check is what `rkt image check-signature docker://...` prints: the
// verdict needs only the registry's HEAD of the manifest and the
// signatures.
func TestCheck(t *testing.T) {
	s := newSimpleSetup(t, "never")
	s.key.trust(t, s.ks, s.reg.host+"/team")
	opts := CheckOptions{Options: s.opts(), Transport: s.reg.transport()}
	want := s.reg.request(t, "team/app:1")

	v, err := Check(verifyCtx(), s.ks, DockerScheme+s.reg.host+"/team/app:1", opts)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if !v.Verified || v.Name != s.reg.host+"/team/app" || v.ImageID != want.ManifestDigest ||
		v.Signer.Fingerprint != s.key.fpr || v.Signer.UserID != "Team Signer <team@example.com>" ||
		v.TrustedPrefix != s.reg.host+"/team" || v.Root || v.SignatureFormat != FormatSimpleSigning || v.Error != "" {
		t.Errorf("verdict %+v", v)
	}

	// By digest, the same verdict.
	if v, err := Check(verifyCtx(), s.ks, DockerScheme+s.reg.host+"/team/app@"+want.ManifestDigest, opts); err != nil || !v.Verified {
		t.Errorf("Check by digest: %+v, %v", v, err)
	}

	// Refused: a key trusted elsewhere. The verdict names the signer.
	other := trust.New("", t.TempDir())
	s.key.trust(t, other, s.reg.host+"/elsewhere")
	v, err = Check(verifyCtx(), other, DockerScheme+s.reg.host+"/team/app:1", opts)
	var unknown *trust.UnknownSignerError
	if !errors.As(err, &unknown) || v == nil || v.Verified || v.Error == "" || v.Signer.Fingerprint != s.key.fpr || v.ImageID != want.ManifestDigest {
		t.Errorf("refused verdict %+v, err %v", v, err)
	}

	// Unsigned.
	s.reg.push(t, "team/plain:1")
	v, err = Check(verifyCtx(), s.ks, DockerScheme+s.reg.host+"/team/plain:1", opts)
	if !errors.Is(err, ErrNoSignature) || v.Verified {
		t.Errorf("unsigned: %+v, %v", v, err)
	}
}
