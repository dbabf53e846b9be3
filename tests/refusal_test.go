package tests

import (
	"bytes"
	"crypto"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rkt/rkt/stage0/trust/trusttest"
)

func assertFileBytes(t *testing.T, p string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: %d bytes differ from the expected %d bytes", p, len(got), len(want))
	}
}

// tamper flips the case of one byte of a file body inside the tar, which
// keeps the tar valid but changes its hash.
func tamper(t *testing.T, aci []byte) []byte {
	t.Helper()
	i := bytes.Index(aci, []byte("hello from"))
	if i < 0 {
		t.Fatal("no file body to tamper with")
	}
	out := bytes.Clone(aci)
	out[i] = 'H'
	return out
}

// TestFetchRefusals: every way a signature check must fail. Each refusal
// exits 254, names the image, leaves nothing in the store and no blob.
func TestFetchRefusals(t *testing.T) {
	t.Parallel()
	type setup struct {
		e   *env
		im  image
		key *trusttest.Key
	}
	cases := []struct {
		name string
		// prepare trusts keys and returns the file, its signature (nil: no
		// .asc) and what the message must mention besides the image.
		prepare func(t *testing.T, s setup) (data, sig []byte, mentions []string)
	}{
		{"unknown signer", func(t *testing.T, s setup) ([]byte, []byte, []string) {
			return s.im.aci, s.key.Sign(t, s.im.aci), []string{"rkt trust --prefix"}
		}},
		{"key trusted for another prefix", func(t *testing.T, s setup) ([]byte, []byte, []string) {
			s.e.trustPrefix(s.e.name("other"), s.key)
			return s.im.aci, s.key.Sign(t, s.im.aci), []string{"rkt trust --prefix"}
		}},
		{"prefix is whole path elements", func(t *testing.T, s setup) ([]byte, []byte, []string) {
			// The image is localhost/<slug>/app; a key for .../ap must not match.
			s.e.trustPrefix(s.e.name("ap"), s.key)
			return s.im.aci, s.key.Sign(t, s.im.aci), []string{"rkt trust --prefix"}
		}},
		{"tampered image", func(t *testing.T, s setup) ([]byte, []byte, []string) {
			s.e.trustPrefix(s.e.prefix(), s.key)
			return tamper(t, s.im.aci), s.key.Sign(t, s.im.aci), []string{"signature"}
		}},
		{"signature over another image", func(t *testing.T, s setup) ([]byte, []byte, []string) {
			s.e.trustPrefix(s.e.prefix(), s.key)
			other := s.e.newImage("app2")
			return s.im.aci, s.key.Sign(t, other.aci), []string{"signature"}
		}},
		{"manifest name outside the prefix", func(t *testing.T, s setup) ([]byte, []byte, []string) {
			// The key is trusted for .../app only, the image calls itself .../app-evil.
			s.e.trustPrefix(s.e.name("app"), s.key)
			evil := s.e.newImage("app-evil")
			return evil.aci, s.key.Sign(t, evil.aci), []string{evil.name}
		}},
		{"expired key", func(t *testing.T, s setup) ([]byte, []byte, []string) {
			k := newKey(t, trusttest.WithExpiry(-time.Hour))
			s.e.trustPrefix(s.e.prefix(), k)
			return s.im.aci, k.Sign(t, s.im.aci, trusttest.SignedAt(time.Now().Add(-90*time.Minute))), []string{"expired"}
		}},
		{"revoked key", func(t *testing.T, s setup) ([]byte, []byte, []string) {
			k := newKey(t, trusttest.Revoked())
			s.e.trustPrefix(s.e.prefix(), k)
			return s.im.aci, k.Sign(t, s.im.aci), []string{"revoked"}
		}},
		{"expired signature", func(t *testing.T, s setup) ([]byte, []byte, []string) {
			s.e.trustPrefix(s.e.prefix(), s.key)
			return s.im.aci, s.key.Sign(t, s.im.aci, trusttest.SigExpired()), []string{"expired"}
		}},
		{"SHA-1 signature", func(t *testing.T, s setup) ([]byte, []byte, []string) {
			s.e.trustPrefix(s.e.prefix(), s.key)
			return s.im.aci, s.key.Sign(t, s.im.aci, trusttest.WithHash(crypto.SHA1)), []string{"SHA"}
		}},
		{"missing signature", func(t *testing.T, s setup) ([]byte, []byte, []string) {
			s.e.trustPrefix(s.e.prefix(), s.key)
			return s.im.aci, nil, []string{".asc"}
		}},
		{"garbage signature", func(t *testing.T, s setup) ([]byte, []byte, []string) {
			s.e.trustPrefix(s.e.prefix(), s.key)
			return s.im.aci, trusttest.Garbage(), []string{"signature"}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			s := setup{e: e, im: e.newImage("app"), key: newKey(t)}
			data, sig, mentions := c.prepare(t, s)
			p := e.writeSigned("app.aci", data, sig)

			out, stderr := e.fails(254, "fetch", p)
			if out != "" {
				t.Errorf("a refused fetch printed %q on stdout", out)
			}
			if !strings.Contains(stderr, "app.aci") && !strings.Contains(stderr, s.im.name) {
				t.Errorf("the refusal names neither the file nor the image:\n%s", stderr)
			}
			assertMentions(t, "the refusal", stderr, mentions...)
			e.assertStore()
		})
	}
}

// TestFetchDiscoveryRefusals covers refusals that only exist for names:
// the image served for a name must carry that name, and an unknown signer
// gets the trust command for the name asked.
func TestFetchDiscoveryRefusals(t *testing.T) {
	t.Parallel()
	t.Run("name asked vs manifest", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		k := newKey(t)
		e.trustPrefix(e.prefix(), k) // the key may sign both names
		asked := e.newImage("app")
		served := e.newImage("other")
		e.site.discover(e.prefix())
		// Where discovery sends .../app, the server has .../other.
		e.site.publish(asked, served.aci, k.Sign(t, served.aci))

		_, stderr := e.fails(254, "fetch", asked.name+":1.0")
		assertMentions(t, "the name mismatch refusal", stderr, asked.name)
		e.assertStore()
	})
	t.Run("unknown signer", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		k := newKey(t)
		im := e.newImage("app")
		e.site.discover(e.prefix())
		e.site.publish(im, im.aci, k.Sign(t, im.aci))

		_, stderr := e.fails(254, "fetch", im.name+":1.0")
		assertMentions(t, "the unknown signer refusal", stderr, im.name, "rkt trust --prefix")
		e.assertStore()
	})
	t.Run("labels asked vs manifest", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		k := newKey(t)
		e.trustPrefix(e.prefix(), k)
		// Served as version 1.0, but the manifest says 2.0.
		im := e.newImageLabels("app", map[string]string{"version": "2.0", "os": "linux", "arch": "amd64"})
		e.site.discover(e.prefix())
		e.site.publish(im, im.aci, k.Sign(t, im.aci))

		_, stderr := e.fails(254, "fetch", im.name+":1.0")
		assertMentions(t, "the label mismatch refusal", stderr, im.name)
		e.assertStore()
	})
}
