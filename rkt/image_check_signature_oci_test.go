package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/rkt/rkt/api/v1"
	"github.com/rkt/rkt/stage0/ocisig/ocisigtest"
)

// check-signature docker://: the CI verdict for a registry image, text and
// JSON, for a cosign-format signature by a P-256 key trusted through rkt
// trust.
func TestImageCheckSignatureDocker(t *testing.T) {
	e := newEnv(t)
	reg := ocisigtest.NewRegistry(t)
	host := reg.Host
	digest := reg.Push(t, "team/app:1")
	key := ocisigtest.NewCosignKey(t)
	reg.Sign(t, key, "team/app", digest, host+"/team/app")
	pub := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(pub, key.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	fpr := key.Fingerprint

	ref := "docker://" + host + "/team/app:1"
	regsD := t.TempDir() // no lookaside: cosign only
	args := []string{"--insecure-options=tls", "image", "check-signature", "--registries-d", regsD}

	r := e.rkt(t, "", append(args, ref)...)
	if r.code != 254 || !strings.HasPrefix(r.stdout, "not verified: "+host+"/team/app "+digest[:39]) {
		t.Errorf("untrusted: rc %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}

	r = e.rkt(t, "", "trust", "--prefix", host+"/team", "--skip-fingerprint-review", pub)
	if r.code != 0 || !strings.Contains(r.stderr, fpr) {
		t.Fatalf("rkt trust cosign.pub: rc %d stderr %q", r.code, r.stderr)
	}
	r = e.rkt(t, "", "trust", "--list", "--prefix", host+"/team")
	if r.code != 0 || !strings.Contains(r.stdout, fpr) || !strings.Contains(r.stdout, "(ecdsa-p256 public key, cosign)") {
		t.Errorf("rkt trust --list: rc %d stdout %q", r.code, r.stdout)
	}
	r = e.rkt(t, "", "trust", "--list", "--format=json")
	var keys []v1.TrustedKey
	if err := json.Unmarshal([]byte(r.stdout), &keys); err != nil || len(keys) != 1 || keys[0].Kind != "ecdsa-p256" || keys[0].Fingerprint != fpr {
		t.Errorf("rkt trust --list --format=json: %q (%v)", r.stdout, err)
	}

	r = e.rkt(t, "", append(args, ref)...)
	want := "verified: " + host + "/team/app " + digest[:39] + "\nsigner: key " + fpr + "\nformat: cosign\ntrusted by: prefix \"" + host + "/team\"\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("trusted: rc %d stdout %q, want %q (stderr %q)", r.code, r.stdout, want, r.stderr)
	}
	r = e.rkt(t, "", append(args, "--format=json", ref)...)
	var v v1.SignatureVerdict
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 0 || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("JSON: rc %d stdout %q: %v", r.code, r.stdout, err)
	}
	if !v.Verified || v.ImageID != digest || v.Name != host+"/team/app" || v.SignatureFormat != "cosign" || v.Signer.Fingerprint != fpr || v.Labels["reference"] != host+"/team/app:1" {
		t.Errorf("verdict %+v", v)
	}

	// Another image under the same prefix, unsigned: refused, with JSON.
	reg.Push(t, "team/other:1")
	r = e.rkt(t, "", append(args, "--format=json", "docker://"+host+"/team/other:1")...)
	v = v1.SignatureVerdict{}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 254 || v.Verified || !strings.Contains(v.Error, "no signature found") {
		t.Errorf("unsigned: rc %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}

	if r := e.rkt(t, "", append(args, "--signature", pub, ref)...); r.code != 254 || !strings.Contains(r.stderr, "--signature does not apply") {
		t.Errorf("--signature with docker://: rc %d stderr %q", r.code, r.stderr)
	}
	if r := e.rkt(t, "", "trust", "--remove", fpr); r.code != 0 {
		t.Errorf("rkt trust --remove: rc %d stderr %q", r.code, r.stderr)
	}
}
