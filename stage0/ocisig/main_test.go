package ocisig

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rkt/rkt/stage0/trust"
	"github.com/rkt/rkt/stage0/trust/trusttest"
)

// testRegistry is go-containerregistry's in-process registry behind a real
// TLS server, reached as localhost:<port> (a registry with a port, as
// trust prefixes must handle).
type testRegistry struct {
	srv  *httptest.Server
	host string // localhost:<port>
	tr   *http.Transport
	opts []remote.Option
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	srv := httptest.NewTLSServer(registry.New(registry.Logger(nopLogger())))
	t.Cleanup(srv.Close)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	// The test certificate names example.com; check it under that name.
	tr.TLSClientConfig = &tls.Config{RootCAs: tr.TLSClientConfig.RootCAs, ServerName: "example.com"}
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	return &testRegistry{srv: srv, host: "localhost:" + port, tr: tr, opts: []remote.Option{remote.WithTransport(tr)}}
}

func (r *testRegistry) transport() http.RoundTripper { return r.tr }

// push writes a fresh random image (real gzip layers) under ref and
// returns its manifest digest.
func (r *testRegistry) push(t *testing.T, ref string) v1.Hash {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	return r.write(t, ref, img)
}

func (r *testRegistry) write(t *testing.T, ref string, img v1.Image) v1.Hash {
	t.Helper()
	tag, err := name.NewTag(r.host + "/" + ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img, r.opts...); err != nil {
		t.Fatalf("pushing %s: %v", tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// gpgKey is an OpenPGP key made by gpg in a GNUPGHOME of the test's own.
type gpgKey struct {
	home string
	fpr  string
	pub  []byte // armored public key
}

// newGPGKey makes a passphrase-less key; expire is gpg's expiry ("never",
// "1d", ...).
func newGPGKey(t *testing.T, uid, expire string) *gpgKey {
	t.Helper()
	return newGPGKeyAlgo(t, uid, "ed25519", expire)
}

// newGPGKeyAlgo makes a passphrase-less signing key of algorithm algo.
func newGPGKeyAlgo(t *testing.T, uid, algo, expire string) *gpgKey {
	t.Helper()
	home := trusttest.GPGHome(t)
	run(t, nil, "gpg", "--homedir", home, "--batch", "--passphrase", "", "--quick-gen-key", uid, algo, "sign", expire)
	out := run(t, nil, "gpg", "--homedir", home, "--batch", "--with-colons", "--list-keys")
	var fpr string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Split(l, ":"); f[0] == "fpr" {
			fpr = strings.ToLower(f[9])
			break
		}
	}
	pub := run(t, nil, "gpg", "--homedir", home, "--batch", "--armor", "--export", fpr)
	return &gpgKey{home: home, fpr: fpr, pub: []byte(pub)}
}

func (k *gpgKey) trust(t *testing.T, ks *trust.Keystore, prefix string) {
	t.Helper()
	tk, err := trust.ParseKey(k.pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.Add(prefix, tk); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

// lookaside is a registries.d dir naming a file:// lookaside for every
// registry, as skopeo and podman read it.
type lookaside struct {
	regsD, dir string
}

func newLookaside(t *testing.T) *lookaside {
	t.Helper()
	l := &lookaside{regsD: t.TempDir(), dir: t.TempDir()}
	conf := fmt.Sprintf("default-docker:\n  lookaside: file://%s\n", l.dir)
	if err := os.WriteFile(filepath.Join(l.regsD, "default.yaml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return l
}

// skopeoSign has skopeo re-push ref (from the registry, to the same
// place) signed by key, writing the signature to the lookaside. identity,
// when not "", is the docker reference the signature names instead.
func (r *testRegistry) skopeoSign(t *testing.T, l *lookaside, key *gpgKey, ref, identity string) {
	t.Helper()
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo is not installed (install_packages in scripts/lib.sh lists it)")
	}
	// Copy the image onto itself: skopeo pushes the same manifest and
	// writes the signature.
	args := []string{"--registries.d", l.regsD, "--insecure-policy", "copy", "--quiet",
		"--src-tls-verify=false", "--dest-tls-verify=false", "--sign-by", key.fpr}
	if identity != "" {
		args = append(args, "--sign-identity", identity)
	}
	args = append(args, "docker://"+r.host+"/"+ref, "docker://"+r.host+"/"+ref)
	run(t, []string{"GNUPGHOME=" + key.home}, "skopeo", args...)
}

// saveLayout writes the image at ref into an OCI layout with ref name img.
func (r *testRegistry) saveLayout(t *testing.T, ref, dir string) {
	t.Helper()
	img, err := remote.Image(mustRef(t, r.host+"/"+ref), r.opts...)
	if err != nil {
		t.Fatal(err)
	}
	p, err := layout.Write(dir, emptyIndex())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "img"})); err != nil {
		t.Fatal(err)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// request is what the fetch path asks Verify for ref, pulled now.
func (r *testRegistry) request(t *testing.T, ref string) Request {
	t.Helper()
	full := r.host + "/" + ref
	pr := mustRef(t, full)
	desc, err := remote.Head(pr, r.opts...)
	if err != nil {
		t.Fatal(err)
	}
	return Request{
		Name:           pr.Context().Name(),
		Reference:      full,
		ManifestDigest: desc.Digest.String(),
		Repository:     pr.Context(),
		RemoteOptions:  r.opts,
	}
}

func verifyCtx() context.Context { return context.Background() }
