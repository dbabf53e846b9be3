package tests

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rkt/rkt/stage0/ocisig/ocisigtest"
)

// rkt fetch docker:// checks the image's signature against the keys
// trusted for its name, as for ACIs: a cosign signature by a key trusted
// for the registry's team/ prefix lets it in; a key trusted for another
// prefix, a tag moved to an unsigned digest, and no signature at all are
// refused, and the store is left as it was.
func TestOCISignedFetch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := ocisigtest.NewRegistry(t)
	key := ocisigtest.NewCosignKey(t)
	trustCosignKey(t, e.localConfig, reg.Host+"/team", key)

	signed := reg.Push(t, "team/app:1")
	reg.Sign(t, key, "team/app", signed, reg.Host+"/team/app")
	other := reg.Push(t, "other/app:1")
	reg.Sign(t, key, "other/app", other, reg.Host+"/other/app")
	reg.Push(t, "team/plain:1")

	// The same key, trusted for team/ only, does not vouch for other/.
	_, stderr := e.fails(254, "--insecure-options=tls", "fetch", "docker://"+reg.Host+"/other/app:1")
	assertMentions(t, "key trusted for another prefix", stderr, "rkt trust --prefix "+reg.Host+"/other/app")
	e.assertStore()

	// No signature at all.
	_, stderr = e.fails(254, "--insecure-options=tls", "fetch", "docker://"+reg.Host+"/team/plain:1")
	assertMentions(t, "unsigned image", stderr, "--insecure-options=image")
	e.assertStore()

	// Signed by a key trusted for the prefix: fetched, the image and its
	// layer.
	e.fetchID("--insecure-options=tls", "docker://"+reg.Host+"/team/app:1")
	ids := e.imageIDs()
	if len(ids) != 2 {
		t.Fatalf("store holds %v, want the image and its layer", ids)
	}

	// The tag moved to an image nobody signed: refused, the store unchanged.
	moved := reg.Push(t, "team/app:1")
	if moved == signed {
		t.Fatal("the second push made the same image")
	}
	_, stderr = e.fails(254, "--insecure-options=tls", "fetch", "--pull-policy=update", "docker://"+reg.Host+"/team/app:1")
	assertMentions(t, "tag moved to an unsigned digest", stderr, moved)
	e.assertStore(ids...)
}

// trustCosignKey trusts key for prefix in the config dir conf, readable by
// every user (check-signature runs as nobody), as rkt trust would.
func trustCosignKey(t *testing.T, conf, prefix string, key *ocisigtest.CosignKey) {
	t.Helper()
	dir := filepath.Join(conf, "trustedkeys", "prefix.d", filepath.FromSlash(prefix))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for p := dir; p != conf; p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
	if err := os.WriteFile(filepath.Join(dir, key.Fingerprint), key.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
}
