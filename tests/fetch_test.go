package tests

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/rkt/rkt/store/storetest"
)

// signedSetup is a test env with a key trusted for its prefix and one image.
func signedSetup(t *testing.T) (*env, image, func(data []byte) []byte) {
	t.Helper()
	e := newEnv(t)
	k := newKey(t)
	e.trustPrefix(e.prefix(), k)
	im := e.newImage("app")
	return e, im, func(data []byte) []byte { return k.Sign(t, data) }
}

func TestFetchFile(t *testing.T) {
	t.Parallel()
	e, im, sign := signedSetup(t)
	p := e.writeSigned("app.aci", im.aci, sign(im.aci))

	out, stderr, code := rkt(t, e, "fetch", p)
	if code != 0 {
		t.Fatalf("fetch: exit %d: %s", code, stderr)
	}
	if out != im.short()+"\n" {
		t.Errorf("fetch stdout = %q, want exactly the ID line %q", out, im.short()+"\n")
	}
	assertMentions(t, "fetch stderr", stderr, "signature verified", "Test Signer")
	e.assertStore(im.id)

	// --full prints the whole key.
	if got := e.fetchID("--full", p); got != im.id {
		t.Errorf("fetch --full printed %s, want %s", got, im.id)
	}
	e.assertStore(im.id)
}

func TestFetchSignatureFlag(t *testing.T) {
	t.Parallel()
	e, im, sign := signedSetup(t)
	p := e.write("app.aci", im.aci)
	sig := e.write("sigs/elsewhere.sig", sign(im.aci))
	if got := e.fetchID("--signature", sig, p); got != im.short() {
		t.Errorf("fetch --signature printed %s, want %s", got, im.short())
	}
	e.assertStore(im.id)
}

func TestFetchHTTPS(t *testing.T) {
	t.Parallel()
	e, im, sign := signedSetup(t)
	e.site.serveFile("app.aci", im.aci)
	e.site.serveFile("app.aci.asc", sign(im.aci))
	if got := e.fetchID(e.site.url("app.aci")); got != im.short() {
		t.Errorf("fetch printed %s, want %s", got, im.short())
	}
	if n := e.site.requests("app.aci.asc"); n != 1 {
		t.Errorf("signature requested %d times, want 1", n)
	}
	e.assertStore(im.id)
}

func TestFetchHTTPRefusedWithoutInsecure(t *testing.T) {
	t.Parallel()
	if servers.httpPort == 0 {
		t.Skip("port 80 could not be bound, so there is no plain HTTP server")
	}
	e, im, sign := signedSetup(t)
	e.site.serveFile("app.aci", im.aci)
	e.site.serveFile("app.aci.asc", sign(im.aci))
	u := "http://localhost/" + e.slug + "/app.aci"
	_, stderr := e.fails(254, "fetch", u)
	assertMentions(t, "http refusal", stderr, "insecure-options")
	if n := e.site.requests("app.aci"); n != 0 {
		t.Errorf("the image was downloaded over plain HTTP %d times before the refusal", n)
	}
	e.assertStore()

	if got := e.fetchID("--insecure-options=http", u); got != im.short() {
		t.Errorf("fetch over http printed %s, want %s", got, im.short())
	}
}

func TestFetchDiscovery(t *testing.T) {
	t.Parallel()
	e, im, sign := signedSetup(t)
	e.site.discover(e.prefix())
	e.site.publish(im, im.aci, sign(im.aci))

	if got := e.fetchID(im.name + ":1.0"); got != im.short() {
		t.Errorf("fetch by name printed %s, want %s", got, im.short())
	}
	e.assertStore(im.id)
	imgs := e.images()
	if len(imgs) != 1 || !strings.HasPrefix(imgs[0].Name, im.name) {
		t.Errorf("image list = %+v, want %s", imgs, im.name)
	}

	// The ID (and a prefix of it) fetches from the store without the network.
	before := e.site.requests(e.site.imagePath(im.name, "1.0", "aci"))
	if got := e.fetchID(im.id); got != im.short() {
		t.Errorf("fetch by ID printed %s", got)
	}
	if got := e.fetchID(im.id[:len("sha512-")+12]); got != im.short() {
		t.Errorf("fetch by ID prefix printed %s", got)
	}
	if after := e.site.requests(e.site.imagePath(im.name, "1.0", "aci")); after != before {
		t.Errorf("fetch by ID went to the network (%d -> %d requests)", before, after)
	}

	// An ID that is not in the store is an error naming it.
	missing := "sha512-" + strings.Repeat("0", 64)
	_, stderr := e.fails(254, "fetch", missing)
	assertMentions(t, "missing ID error", stderr, "sha512-0000")
}

func TestFetchCompressed(t *testing.T) {
	t.Parallel()
	bzip2 := func(t *testing.T, b []byte) []byte {
		if _, err := exec.LookPath("bzip2"); err != nil {
			t.Skip("the bzip2 command is not installed")
		}
		cmd := exec.Command("bzip2", "-c")
		cmd.Stdin = bytes.NewReader(b)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bzip2: %v", err)
		}
		return out
	}
	cases := []struct {
		name     string
		compress func(t *testing.T, b []byte) []byte
	}{
		{"gzip", func(t *testing.T, b []byte) []byte { return storetest.Gzip(b) }},
		{"bzip2", bzip2},
		{"xz", func(t *testing.T, b []byte) []byte { return storetest.Xz(t, b) }},
		{"zstd", func(t *testing.T, b []byte) []byte { return storetest.Zstd(t, b) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e, im, sign := signedSetup(t)
			data := c.compress(t, im.aci)
			if bytes.Equal(data, im.aci) {
				t.Fatal("compression changed nothing")
			}
			// File, signed over the compressed bytes.
			p := e.writeSigned("app.aci", data, sign(data))
			if got := e.fetchID("--full", p); got != im.id {
				t.Errorf("fetch of the %s file printed %s, want the ID of the uncompressed tar %s", c.name, got, im.id)
			}
			// The store keeps the uncompressed tar.
			out := e.base + "/exported.aci"
			e.ok("image", "export", im.id, out)
			assertFileBytes(t, out, im.aci)
			e.assertStore(im.id)

			// Over HTTPS too.
			e.ok("image", "rm", im.id)
			e.site.serveFile("app.aci", data)
			e.site.serveFile("app.aci.asc", sign(data))
			if got := e.fetchID("--full", e.site.url("app.aci")); got != im.id {
				t.Errorf("fetch of the %s URL printed %s, want %s", c.name, got, im.id)
			}
			e.assertStore(im.id)
		})
	}
}

func TestFetchInsecureImage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	im := e.newImage("app")
	p := e.write("app.aci", im.aci) // no signature, no trusted key

	_, stderr := e.fails(254, "fetch", p)
	assertMentions(t, "refusal of an unsigned image", stderr, "app.aci")
	e.assertStore()

	out, stderr, code := rkt(t, e, "--insecure-options=image", "fetch", p)
	if code != 0 {
		t.Fatalf("fetch --insecure-options=image: exit %d: %s", code, stderr)
	}
	if strings.TrimSpace(out) != im.short() {
		t.Errorf("stdout = %q, want %s", out, im.short())
	}
	assertMentions(t, "insecure fetch stderr", stderr, "signature verification has been disabled")
	e.assertStore(im.id)
}

func TestFetchMultipleImages(t *testing.T) {
	t.Parallel()
	e, im, sign := signedSetup(t)
	im2 := e.newImage("other")
	p1 := e.writeSigned("app.aci", im.aci, sign(im.aci))
	p2 := e.writeSigned("other.aci", im2.aci, sign(im2.aci))
	out := e.ok("fetch", p1, p2)
	if out != im.short()+"\n"+im2.short()+"\n" {
		t.Errorf("fetch of two images printed %q, want one ID per line in order", out)
	}
	e.assertStore(im.id, im2.id)
}
