package ocisig

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rkt/rkt/stage0/trust"
)

// The cosign tests sign with the real cosign CLI
// (github.com/sigstore/cosign/v2/cmd/cosign), built for the test from the
// tools module internal/tools/cosign, which pins its version apart from
// rkt's go.mod.
var (
	cosignOnce   sync.Once
	cosignDir    string
	cosignBin    string
	cosignSkipOK string // why cosign could not be built
)

// TestMain removes the cosign build, made by the first test that needs it.
func TestMain(m *testing.M) {
	code := m.Run()
	if cosignDir != "" {
		os.RemoveAll(cosignDir)
	}
	os.Exit(code)
}

// buildCosign builds the pinned cosign CLI into dir.
func buildCosign(dir string) (bin, skip string) {
	_, file, _, _ := runtime.Caller(0)
	tools := filepath.Join(filepath.Dir(file), "..", "..", "internal", "tools", "cosign")
	bin = filepath.Join(dir, "cosign")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/sigstore/cosign/v2/cmd/cosign")
	cmd.Dir = tools
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Sprintf("building the cosign CLI from %s: %v\n%s", tools, err, out)
	}
	return bin, ""
}

func needCosign(t *testing.T) {
	t.Helper()
	cosignOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ocisig-cosign-")
		if err != nil {
			cosignSkipOK = err.Error()
			return
		}
		cosignDir = dir
		cosignBin, cosignSkipOK = buildCosign(dir)
	})
	if cosignBin == "" {
		// The go tool and the module proxy are what every test here
		// needs; a cosign that does not build is a failure to look at.
		t.Fatal(cosignSkipOK)
	}
}

// cosignKey is a key pair made by `cosign generate-key-pair`.
type cosignKey struct{ priv, pub string }

func newCosignKey(t *testing.T) *cosignKey {
	t.Helper()
	needCosign(t)
	dir := t.TempDir()
	cmd := exec.Command(cosignBin, "generate-key-pair")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	return &cosignKey{priv: filepath.Join(dir, "cosign.key"), pub: filepath.Join(dir, "cosign.pub")}
}

func (k *cosignKey) trust(t *testing.T, ks *trust.Keystore, prefix string) *trust.Key {
	t.Helper()
	data, err := os.ReadFile(k.pub)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := trust.ParseKey(data)
	if err != nil {
		t.Fatalf("parsing cosign.pub: %v", err)
	}
	if _, _, err := ks.Add(prefix, tk); err != nil {
		t.Fatal(err)
	}
	return tk
}

// cosignSign signs the image at ref (by digest, as cosign advises) with
// no transparency log. identity, when not "", replaces the reference
// the payload names.
func (r *testRegistry) cosignSign(t *testing.T, k *cosignKey, req Request, identity string) {
	t.Helper()
	args := []string{"sign", "--key", k.priv, "--tlog-upload=false", "--yes", "--allow-insecure-registry"}
	if identity != "" {
		args = append(args, "--sign-container-identity", identity)
	}
	args = append(args, req.Name+"@"+req.ManifestDigest)
	cmd := exec.Command(cosignBin, args...)
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=", "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign %v: %v\n%s", args, err, out)
	}
}

func TestCosign(t *testing.T) {
	needCosign(t)
	reg := newTestRegistry(t)
	key := newCosignKey(t)
	noLookaside := Options{RegistriesDirs: []string{t.TempDir()}}

	reg.push(t, "team/app:1")
	req := reg.request(t, "team/app:1")
	reg.cosignSign(t, key, req, "")

	ks := trust.New("", t.TempDir())
	tk := key.trust(t, ks, reg.host+"/team")
	res, err := Verify(verifyCtx(), ks, req, noLookaside)
	if err != nil {
		t.Fatalf("verifying a cosign-signed image: %v", err)
	}
	if res.Format != FormatCosign || res.Verdict.Fingerprint != tk.Fingerprint || res.Verdict.Prefix != reg.host+"/team" {
		t.Errorf("result %+v %+v, want cosign by %s", res, res.Verdict, tk.Fingerprint)
	}

	t.Run("key trusted for another prefix", func(t *testing.T) {
		other := trust.New("", t.TempDir())
		key.trust(t, other, reg.host+"/teamx")
		_, err := Verify(verifyCtx(), other, req, noLookaside)
		var unknown *trust.UnknownSignerError
		if !errors.As(err, &unknown) || !errors.Is(err, trust.ErrNoKeyVerifies) || len(unknown.TrustedFor) != 1 {
			t.Fatalf("got %v, want no key verifying, with the key trusted for another prefix", err)
		}
	})

	t.Run("signed by another key", func(t *testing.T) {
		reg.push(t, "team/other:1")
		r := reg.request(t, "team/other:1")
		reg.cosignSign(t, newCosignKey(t), r, "")
		if _, err := Verify(verifyCtx(), ks, r, noLookaside); !errors.Is(err, trust.ErrNoKeyVerifies) {
			t.Fatalf("got %v, want no key verifying", err)
		}
	})

	t.Run("unsigned", func(t *testing.T) {
		reg.push(t, "team/plain:1")
		if _, err := Verify(verifyCtx(), ks, reg.request(t, "team/plain:1"), noLookaside); !errors.Is(err, ErrNoSignature) {
			t.Fatalf("got %v, want no signature", err)
		}
	})

	t.Run("signature of another digest", func(t *testing.T) {
		// The signatures of app:1 put where those of another image go.
		reg.push(t, "team/app:2")
		r2 := reg.request(t, "team/app:2")
		sigs, err := remote.Image(mustRef(t, req.Name+":"+cosignTag(req.ManifestDigest)), reg.opts...)
		if err != nil {
			t.Fatal(err)
		}
		reg.write(t, "team/app:"+cosignTag(r2.ManifestDigest), sigs)
		if _, err := Verify(verifyCtx(), ks, r2, noLookaside); !errors.Is(err, ErrDigestMismatch) {
			t.Fatalf("got %v, want a digest mismatch", err)
		}
	})

	t.Run("signed for another repository", func(t *testing.T) {
		reg.push(t, "team/web:1")
		r := reg.request(t, "team/web:1")
		reg.cosignSign(t, key, r, reg.host+"/team/db")
		if _, err := Verify(verifyCtx(), ks, r, noLookaside); !errors.Is(err, ErrIdentityMismatch) {
			t.Fatalf("got %v, want an identity mismatch", err)
		}
	})
}

// A layout written by `cosign save` (a directory, or its tarball) carries
// the image and its signatures: check-signature oci:DIR and
// oci-archive:FILE verify it with the same keys, no registry needed.
func TestCosignSavedLayout(t *testing.T) {
	needCosign(t)
	reg := newTestRegistry(t)
	key := newCosignKey(t)
	reg.push(t, "team/app:1")
	req := reg.request(t, "team/app:1")
	reg.cosignSign(t, key, req, "")
	dir := filepath.Join(t.TempDir(), "layout")
	cmd := exec.Command(cosignBin, "save", "--allow-insecure-registry", "--dir", dir, req.Name+"@"+req.ManifestDigest)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign save: %v\n%s", err, out)
	}
	archive := filepath.Join(t.TempDir(), "app.tar")
	run(t, nil, "tar", "-C", dir, "-cf", archive, ".")

	ks := trust.New("", t.TempDir())
	key.trust(t, ks, reg.host+"/team")
	opts := CheckOptions{Options: Options{RegistriesDirs: []string{t.TempDir()}}}
	for _, ref := range []string{OCILayoutScheme + dir + ":" + reg.host + "/team/app:1", OCIArchiveScheme + archive + ":" + reg.host + "/team/app:1"} {
		v, err := Check(verifyCtx(), ks, ref, opts)
		if err != nil || !v.Verified || v.ImageID != req.ManifestDigest || v.SignatureFormat != FormatCosign || v.Name != reg.host+"/team/app" {
			t.Errorf("%s: %+v, %v", ref, v, err)
		}
	}
	// Named as another repository: the payload does not bind it.
	other := trust.New("", t.TempDir())
	key.trust(t, other, reg.host+"/elsewhere")
	v, err := Check(verifyCtx(), other, OCIArchiveScheme+archive+":"+reg.host+"/elsewhere/app:1", opts)
	if !errors.Is(err, ErrIdentityMismatch) || v.Verified {
		t.Errorf("another name: %+v, %v", v, err)
	}
	// Without a full reference there is no trust name.
	if _, err := Check(verifyCtx(), ks, OCIArchiveScheme+archive, opts); err == nil {
		t.Error("an archive without a name was checked")
	}
}
