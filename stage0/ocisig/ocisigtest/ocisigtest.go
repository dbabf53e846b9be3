// Package ocisigtest serves tests of signed registry images: an in-process
// registry (go-containerregistry's) on a real TLS server, images of random
// real layers pushed to it, and cosign-format signatures made in the test
// with a P-256 key. The cosign CLI itself is exercised in stage0/ocisig's
// tests; this package makes the same registry objects for tests that drive
// rkt and cannot build cosign.
package ocisigtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
)

// Registry is a registry on 127.0.0.1, named Host ("localhost:<port>") in
// references: a registry with a port, as trust prefixes must handle. Its
// certificate is the httptest one, so clients must not verify it (rkt's
// --insecure-options=tls).
type Registry struct {
	Host string
	srv  *httptest.Server
}

// NewRegistry starts a registry, closed when the test ends.
func NewRegistry(t testing.TB) *Registry {
	t.Helper()
	srv := httptest.NewTLSServer(registry.New())
	t.Cleanup(srv.Close)
	return &Registry{Host: "localhost:" + srv.URL[strings.LastIndex(srv.URL, ":")+1:], srv: srv}
}

func (r *Registry) tag(t testing.TB, repoTag string) name.Tag {
	t.Helper()
	// Reached at 127.0.0.1, where the test certificate is valid.
	tag, err := name.NewTag(strings.TrimPrefix(r.srv.URL, "https://") + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

// Push writes an image of random layers under repoTag ("team/app:1") and
// returns its manifest digest.
func (r *Registry) Push(t testing.TB, repoTag string) string {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r.tag(t, repoTag), img, remote.WithTransport(r.srv.Client().Transport)); err != nil {
		t.Fatalf("pushing %s: %v", repoTag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// CosignKey is a P-256 key as cosign makes them.
type CosignKey struct {
	priv *ecdsa.PrivateKey
	// PEM is the public key as cosign.pub holds it.
	PEM []byte
	// Fingerprint is the lowercase hex SHA-256 of the DER public key: the
	// name rkt trust stores it under.
	Fingerprint string
}

// NewCosignKey makes a key.
func NewCosignKey(t testing.TB) *CosignKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return &CosignKey{priv: k, PEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), Fingerprint: hex.EncodeToString(sum[:])}
}

// Sign stores, as cosign sign --key does, a signature of digest in repo
// ("team/app") that names identity (a registry/repository) as the
// docker-reference: the tag sha256-<hex>.sig, one payload layer with the
// signature in its annotation.
func (r *Registry) Sign(t testing.TB, k *CosignKey, repo, digest, identity string) {
	t.Helper()
	payload := fmt.Sprintf(`{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`,
		identity, digest)
	h := sha256.Sum256([]byte(payload))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, h[:])
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:       static.NewLayer([]byte(payload), "application/vnd.dev.cosign.simplesigning.v1+json"),
		Annotations: map[string]string{"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sig)},
	})
	if err != nil {
		t.Fatal(err)
	}
	tag := r.tag(t, repo+":"+strings.Replace(digest, ":", "-", 1)+".sig")
	if err := remote.Write(tag, img, remote.WithTransport(r.srv.Client().Transport)); err != nil {
		t.Fatalf("pushing the signature of %s: %v", digest, err)
	}
}
