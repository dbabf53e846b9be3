package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rkt/rkt/stage0/ocisig/ocisigtest"
)

// check-signature docker:// as the user nobody: the registry image's CI
// verdict needs no root and no store, as for ACIs. The image is signed in
// cosign's format by a P-256 key trusted for the registry's team/ prefix
// (a registry with a port).
func TestCheckSignatureDocker(t *testing.T) {
	t.Parallel()
	e := nobodyEnv(t)
	reg := ocisigtest.NewRegistry(t)
	key := ocisigtest.NewCosignKey(t)
	digest := reg.Push(t, "team/app:1")
	reg.Sign(t, key, "team/app", digest, reg.Host+"/team/app")
	reg.Push(t, "team/plain:1")

	trustCosignKey(t, e.localConfig, reg.Host+"/team", key)

	args := []string{"--insecure-options=tls", "image", "check-signature", "--registries-d", filepath.Join(e.base, "no-registries.d")}
	out := e.ok(append(args, "docker://"+reg.Host+"/team/app:1")...)
	if !strings.HasPrefix(out, "verified: "+reg.Host+"/team/app "+digest[:39]+"\n") || !strings.Contains(out, "format: cosign\n") {
		t.Errorf("check-signature output:\n%s", out)
	}
	v := parseVerdict(t, e.ok(append(args, "--format=json", "docker://"+reg.Host+"/team/app@"+digest)...))
	if !v.Verified || v.ImageID != digest || v.Signer.Fingerprint != key.Fingerprint || v.TrustedPrefix != reg.Host+"/team" {
		t.Errorf("verdict %+v", v)
	}
	out, stderr := e.fails(254, append(args, "--format=json", "docker://"+reg.Host+"/team/plain:1")...)
	if v := parseVerdict(t, out); v.Verified || !strings.Contains(stderr, "no signature found") {
		t.Errorf("unsigned: verdict %+v, stderr %s", v, stderr)
	}
	if _, err := os.Stat(e.dataDir); err == nil {
		t.Errorf("check-signature created the data dir %s", e.dataDir)
	}
}
