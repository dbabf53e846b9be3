package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"

	v1 "github.com/rkt/rkt/api/v1"
)

// check-signature docker://: the CI verdict for a registry image, text and
// JSON, for a cosign-format signature made here with a P-256 key trusted
// through rkt trust (the signing tools themselves are exercised in
// stage0/ocisig's tests).
func TestImageCheckSignatureDocker(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewTLSServer(registry.New())
	defer srv.Close()
	host := "localhost:" + srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	tr := remote.WithTransport(srv.Client().Transport)
	push := func(ref string) string {
		img, err := random.Image(512, 1)
		if err != nil {
			t.Fatal(err)
		}
		tag, err := name.NewTag(strings.Replace(ref, host, strings.TrimPrefix(srv.URL, "https://"), 1))
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(tag, img, tr); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		return d.String()
	}
	digest := push(host + "/team/app:1")

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pub := filepath.Join(t.TempDir(), "cosign.pub")
	os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
	sum := sha256.Sum256(der)
	fpr := fmt.Sprintf("%x", sum)

	// The cosign layout: tag sha256-<hex>.sig, one payload layer.
	payload := fmt.Sprintf(`{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`,
		host+"/team/app", digest)
	h := sha256.Sum256([]byte(payload))
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sigImg, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:       static.NewLayer([]byte(payload), "application/vnd.dev.cosign.simplesigning.v1+json"),
		Annotations: map[string]string{"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sig)},
	})
	if err != nil {
		t.Fatal(err)
	}
	sigTag, _ := name.NewTag(strings.TrimPrefix(srv.URL, "https://") + "/team/app:" + strings.Replace(digest, ":", "-", 1) + ".sig")
	if err := remote.Write(sigTag, sigImg, tr); err != nil {
		t.Fatal(err)
	}

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
	if r.code != 0 || !strings.Contains(r.stdout, fpr) {
		t.Errorf("rkt trust --list: rc %d stdout %q", r.code, r.stdout)
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
	push(host + "/team/other:1")
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
