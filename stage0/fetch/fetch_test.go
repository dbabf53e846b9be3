package fetch

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	dsbzip2 "github.com/dsnet/compress/bzip2"

	"github.com/rkt/rkt/stage0/insecure"
	"github.com/rkt/rkt/stage0/transport"
	"github.com/rkt/rkt/stage0/trust"
	"github.com/rkt/rkt/stage0/trust/trusttest"
	"github.com/rkt/rkt/store/storetest"
)

func compressBzip2(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := dsbzip2.NewWriter(&buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFetchFileEveryCompression(t *testing.T) {
	key := trusttest.NewKey(t, "Hello Signer <hello@example.com>")
	aci := image(t, "example.com/hello", map[string]string{"version": "1.0"}, "hello world")
	wantID := storetest.ImageID(aci)
	for _, tc := range []struct {
		name string
		data []byte
		hash crypto.Hash
	}{
		{"tar", aci, crypto.SHA512},
		{"tar-sha256", aci, crypto.SHA256},
		{"gzip", storetest.Gzip(aci), crypto.SHA512},
		{"bzip2", compressBzip2(t, aci), crypto.SHA512},
		{"xz", storetest.Xz(t, aci), crypto.SHA512},
		{"zstd", storetest.Zstd(t, aci), crypto.SHA512},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.trust("example.com/hello", key)
			path := e.writeFile("hello.aci", tc.data)
			e.writeFile("hello.aci.asc", key.Sign(t, tc.data, trusttest.WithHash(tc.hash)))
			got, err := e.fetcher(nil, PullUpdate).Fetch(bg(), path, "")
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if got != wantID {
				t.Fatalf("key = %s, want %s", got, wantID)
			}
			img, err := e.store.Image(got)
			if err != nil || img.Name != "example.com/hello" {
				t.Fatalf("image row = %+v, %v", img, err)
			}
			tree, err := e.store.Render(bg(), got)
			if err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(e.store.TreePath(tree), "rootfs", "hello.txt")); err != nil || string(b) != "hello world" {
				t.Fatalf("rendered file = %q, %v", b, err)
			}
		})
	}
}

func TestFetchFileExplicitSignatureAndFileURL(t *testing.T) {
	key := trusttest.NewKey(t, "Hello Signer")
	aci := image(t, "example.com/hello", nil, "hi")
	e := newEnv(t)
	e.trust("example.com", key)
	path := e.writeFile("hello.aci", aci)
	sig := e.writeFile("elsewhere.sig", key.Sign(t, aci, trusttest.Binary()))
	if _, err := e.fetcher(nil, PullUpdate).Fetch(bg(), "file://"+path, sig); err != nil {
		t.Fatalf("Fetch with --signature: %v", err)
	}
}

// TestRefusalsLeaveNothing: every way a signature can fail to vouch for an
// image refuses the fetch, names the problem, and leaves the store empty.
func TestRefusalsLeaveNothing(t *testing.T) {
	good := trusttest.NewKey(t, "Good Signer <good@example.com>")
	stranger := trusttest.NewKey(t, "Stranger <x@example.org>")
	expired := trusttest.NewKey(t, "Expired <e@example.com>", trusttest.WithExpiry(-time.Minute))
	revoked := trusttest.NewKey(t, "Revoked <r@example.com>", trusttest.Revoked())

	aci := image(t, "example.com/hello", nil, "hello world")
	other := image(t, "example.com/hello", nil, "another image")
	evil := image(t, "example.com/hellox", nil, "hello world")
	tampered := bytes.Replace(aci, []byte("hello world"), []byte("jello world"), 1)
	if bytes.Equal(tampered, aci) {
		t.Fatal("tampering did not change the image")
	}

	type check func(t *testing.T, err error)
	is := func(target error) check {
		return func(t *testing.T, err error) {
			if !errors.Is(err, target) {
				t.Fatalf("err = %v, want %v", err, target)
			}
		}
	}
	unknown := func(t *testing.T, err error) {
		var u *trust.UnknownSignerError
		if !errors.As(err, &u) {
			t.Fatalf("err = %v, want *trust.UnknownSignerError", err)
		}
		if !strings.Contains(err.Error(), "rkt trust --prefix") {
			t.Errorf("message %q does not say how to fix it", err)
		}
	}
	cases := []struct {
		name    string
		trustAs map[string]*trusttest.Key // prefix -> key
		image   []byte
		sig     []byte // nil: no .asc at all
		check   check
	}{
		{"unknown signer", map[string]*trusttest.Key{"example.com": good}, aci, stranger.Sign(t, aci), unknown},
		{"other prefix", map[string]*trusttest.Key{"example.com/other": good}, aci, good.Sign(t, aci), unknown},
		{"name outside prefix", map[string]*trusttest.Key{"example.com/hello": good}, evil, good.Sign(t, evil), unknown},
		{"tampered", map[string]*trusttest.Key{"example.com/hello": good}, tampered, good.Sign(t, aci), is(trust.ErrBadSignature)},
		{"tampered tar sha512", map[string]*trusttest.Key{"example.com/hello": good}, tampered, good.Sign(t, aci, trusttest.WithHash(crypto.SHA512)), is(trust.ErrBadSignature)},
		{"tampered gzip", map[string]*trusttest.Key{"example.com/hello": good}, storetest.Gzip(tampered), good.Sign(t, storetest.Gzip(aci)), is(trust.ErrBadSignature)},
		{"other image's signature", map[string]*trusttest.Key{"example.com/hello": good}, aci, good.Sign(t, other), is(trust.ErrBadSignature)},
		{"expired key", map[string]*trusttest.Key{"example.com/hello": expired}, aci, expired.Sign(t, aci, trusttest.SignedAt(time.Now().Add(-90*time.Minute))), is(trust.ErrKeyExpired)},
		{"revoked key", map[string]*trusttest.Key{"example.com/hello": revoked}, aci, revoked.Sign(t, aci), is(trust.ErrKeyRevoked)},
		{"expired signature", map[string]*trusttest.Key{"example.com/hello": good}, aci, good.Sign(t, aci, trusttest.SigExpired()), is(trust.ErrSignatureExpired)},
		{"sha1", map[string]*trusttest.Key{"example.com/hello": good}, aci, good.Sign(t, aci, trusttest.WithHash(crypto.SHA1)), is(trust.ErrWeakDigest)},
		{"missing", map[string]*trusttest.Key{"example.com/hello": good}, aci, nil, is(ErrNoSignature)},
		{"garbage", map[string]*trusttest.Key{"example.com/hello": good}, aci, trusttest.Garbage(), is(trust.ErrGarbageSignature)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			for prefix, k := range tc.trustAs {
				e.trust(prefix, k)
			}
			path := e.writeFile("img.aci", tc.image)
			if tc.sig != nil {
				e.writeFile("img.aci.asc", tc.sig)
			}
			_, err := e.fetcher(nil, PullUpdate).Fetch(bg(), path, "")
			if err == nil {
				t.Fatal("Fetch accepted the image")
			}
			tc.check(t, err)
			if !strings.Contains(err.Error(), path) {
				t.Errorf("message %q does not name the image", err)
			}
			e.assertEmpty()

			// The same bytes over https are refused the same way.
			srv := newServer(t)
			srv.put("/img.aci", resource{body: tc.image})
			if tc.sig != nil {
				srv.put("/img.aci.asc", resource{body: tc.sig})
			}
			_, err = e.fetcher(srv.client(0, nil), PullUpdate).Fetch(bg(), srv.URL+"/img.aci", "")
			if err == nil {
				t.Fatal("Fetch over https accepted the image")
			}
			tc.check(t, err)
			e.assertEmpty()
		})
	}
}

func TestInsecureImageSkipsAndWarns(t *testing.T) {
	e := newEnv(t)
	aci := image(t, "example.com/hello", nil, "unsigned")
	path := e.writeFile("hello.aci", aci)
	f := e.fetcher(nil, PullUpdate)
	f.Insecure = insecure.Image
	key, err := f.Fetch(bg(), path, "")
	if err != nil {
		t.Fatalf("Fetch with --insecure-options=image: %v", err)
	}
	if key != storetest.ImageID(aci) {
		t.Fatalf("key = %s", key)
	}
	if !strings.Contains(e.log.String(), "signature verification has been disabled") {
		t.Fatalf("no warning logged; log: %s", e.log)
	}
}

func TestFetchURL(t *testing.T) {
	key := trusttest.NewKey(t, "Hello Signer")
	aci := storetest.Gzip(image(t, "example.com/hello", nil, "over https"))
	srv := newServer(t)
	srv.put("/hello.aci", resource{body: aci})
	srv.put("/hello.aci.asc", resource{body: key.Sign(t, aci)})
	e := newEnv(t)
	e.trust("example.com/hello", key)

	client := srv.client(0, map[string]http.Header{srv.hostPort(): transport.BasicAuth("alice", "pw")})
	got, err := e.fetcher(client, PullUpdate).Fetch(bg(), srv.URL+"/hello.aci", "")
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if _, err := e.store.Image(got); err != nil {
		t.Fatal(err)
	}
	want := transport.BasicAuth("alice", "pw").Get("Authorization")
	for _, p := range []string{"/hello.aci", "/hello.aci.asc"} {
		if srv.authSeen(p) != want {
			t.Errorf("%s: Authorization = %q, want the configured one", p, srv.authSeen(p))
		}
	}

	// Plain http is refused without --insecure-options=http.
	_, err = e.fetcher(client, PullUpdate).Fetch(bg(), strings.Replace(srv.URL, "https://", "http://", 1)+"/hello.aci", "")
	if !errors.Is(err, transport.ErrPlainHTTP) {
		t.Fatalf("http URL: err = %v, want ErrPlainHTTP", err)
	}
}

func TestETagReuse(t *testing.T) {
	key := trusttest.NewKey(t, "Hello Signer")
	aci := image(t, "example.com/hello", nil, "etag")
	srv := newServer(t)
	srv.put("/hello.aci", resource{body: aci, etag: `"v1"`})
	srv.put("/hello.aci.asc", resource{body: key.Sign(t, aci)})
	e := newEnv(t)
	e.trust("example.com/hello", key)
	f := e.fetcher(srv.client(0, nil), PullUpdate)

	first, err := f.Fetch(bg(), srv.URL+"/hello.aci", "")
	if err != nil {
		t.Fatal(err)
	}
	row, err := e.store.Remote(srv.URL + "/hello.aci")
	if err != nil || row == nil || row.ETag != `"v1"` || row.BlobKey != first {
		t.Fatalf("remote row = %+v, %v", row, err)
	}
	second, err := f.Fetch(bg(), srv.URL+"/hello.aci", "")
	if err != nil {
		t.Fatal(err)
	}
	if second != first {
		t.Fatalf("second fetch gave %s, want %s", second, first)
	}
	if n := srv.hit("/hello.aci"); n != 2 {
		t.Fatalf("image requested %d times, want 2 (the second answered 304)", n)
	}
	if n := srv.hit("/hello.aci.asc"); n != 1 {
		t.Fatalf("signature requested %d times, want 1 (not needed after a 304)", n)
	}

	// A new ETag means a new image.
	aci2 := image(t, "example.com/hello", nil, "etag v2")
	srv.put("/hello.aci", resource{body: aci2, etag: `"v2"`})
	srv.put("/hello.aci.asc", resource{body: key.Sign(t, aci2)})
	third, err := f.Fetch(bg(), srv.URL+"/hello.aci", "")
	if err != nil {
		t.Fatal(err)
	}
	if third != storetest.ImageID(aci2) {
		t.Fatalf("after a change got %s, want the new image", third)
	}
}

func TestMaxAgeReuseWithoutRequest(t *testing.T) {
	key := trusttest.NewKey(t, "Hello Signer")
	aci := image(t, "example.com/hello", nil, "max-age")
	srv := newServer(t)
	srv.put("/hello.aci", resource{body: aci, cache: "public, max-age=3600"})
	srv.put("/hello.aci.asc", resource{body: key.Sign(t, aci)})
	e := newEnv(t)
	e.trust("example.com/hello", key)
	f := e.fetcher(srv.client(0, nil), PullUpdate)
	first, err := f.Fetch(bg(), srv.URL+"/hello.aci", "")
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.Fetch(bg(), srv.URL+"/hello.aci", "")
	if err != nil || second != first {
		t.Fatalf("second fetch = %s, %v", second, err)
	}
	if n := srv.hit("/hello.aci"); n != 1 {
		t.Fatalf("image requested %d times within max-age, want 1", n)
	}

	// no-store: nothing recorded, so the next fetch downloads again.
	srv.put("/nostore.aci", resource{body: aci, cache: "no-store"})
	srv.put("/nostore.aci.asc", resource{body: key.Sign(t, aci)})
	for range 2 {
		if _, err := f.Fetch(bg(), srv.URL+"/nostore.aci", ""); err != nil {
			t.Fatal(err)
		}
	}
	if row, _ := e.store.Remote(srv.URL + "/nostore.aci"); row != nil {
		t.Fatalf("no-store response recorded: %+v", row)
	}
	if n := srv.hit("/nostore.aci"); n != 2 {
		t.Fatalf("no-store image requested %d times, want 2", n)
	}
}

func TestPullPolicies(t *testing.T) {
	key := trusttest.NewKey(t, "Hello Signer")
	aci := image(t, "example.com/hello", nil, "policies")
	srv := newServer(t)
	srv.put("/hello.aci", resource{body: aci})
	srv.put("/hello.aci.asc", resource{body: key.Sign(t, aci)})
	e := newEnv(t)
	e.trust("example.com/hello", key)
	url := srv.URL + "/hello.aci"

	if _, err := e.fetcher(srv.client(0, nil), PullNever).Fetch(bg(), url, ""); !errors.Is(err, ErrNotInStore) || !strings.Contains(err.Error(), `"never"`) {
		t.Fatalf("never, absent: err = %v, want ErrNotInStore naming the policy", err)
	}
	if srv.hit("/hello.aci") != 0 {
		t.Fatal("pull policy never made a request")
	}
	id, err := e.fetcher(srv.client(0, nil), PullNew).Fetch(bg(), url, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []PullPolicy{PullNew, PullNever} {
		got, err := e.fetcher(srv.client(0, nil), p).Fetch(bg(), url, "")
		if err != nil || got != id {
			t.Fatalf("%v, present: %s, %v", p, got, err)
		}
	}
	if n := srv.hit("/hello.aci"); n != 1 {
		t.Fatalf("image requested %d times, want 1", n)
	}

	// Image IDs and prefixes come from the store only.
	got, err := e.fetcher(nil, PullUpdate).Fetch(bg(), id[:20], "")
	if err != nil || got != id {
		t.Fatalf("by ID prefix: %s, %v", got, err)
	}
	if _, err := e.fetcher(nil, PullUpdate).Fetch(bg(), "sha512-0000", ""); !errors.Is(err, ErrNotInStore) {
		t.Fatalf("unknown ID: err = %v, want ErrNotInStore", err)
	}
	if _, err := e.fetcher(nil, PullUpdate).Fetch(bg(), "cimd:busybox", ""); !errors.Is(err, ErrUnsupportedRef) {
		t.Fatalf("cimd: err = %v", err)
	}
	for s, want := range map[string]PullPolicy{"new": PullNew, "update": PullUpdate, "never": PullNever} {
		if got, err := ParsePullPolicy(s); err != nil || got != want || got.String() != s {
			t.Errorf("ParsePullPolicy(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParsePullPolicy("sometimes"); err == nil {
		t.Error("ParsePullPolicy accepted nonsense")
	}
}

func TestDiscoveryFetch(t *testing.T) {
	key := trusttest.NewKey(t, "Example Signer")
	labels := map[string]string{"version": "1.0"}
	for k, v := range defaultLabels() {
		labels[k] = v
	}
	aci := storetest.Xz(t, image(t, "127.0.0.1/example/hello", labels, "discovered"))
	srv := newServer(t)
	aciPath := srv.discoverable("127.0.0.1/example", "127.0.0.1/example/hello", "1.0", aci, key.Sign(t, aci))
	srv.discoverable("127.0.0.1/example", "127.0.0.1/example/hello", "latest", aci, key.Sign(t, aci))

	e := newEnv(t)
	e.trust("127.0.0.1/example", key)
	f := e.fetcher(srv.client(0, nil), PullNew)
	f.DiscoveryPort = srv.port()

	got, err := f.Fetch(bg(), "127.0.0.1/example/hello:1.0", "")
	if err != nil {
		t.Fatalf("Fetch by name: %v", err)
	}
	if srv.hit(aciPath) != 1 || srv.hit(aciPath+".asc") != 1 {
		t.Fatalf("image/signature requested %d/%d times", srv.hit(aciPath), srv.hit(aciPath+".asc"))
	}
	// Pull policy new: the store answers, no request at all.
	before := srv.hit("/example")
	again, err := f.Fetch(bg(), "127.0.0.1/example/hello:1.0", "")
	if err != nil || again != got {
		t.Fatalf("second fetch: %s, %v", again, err)
	}
	if srv.hit("/example") != before || srv.hit(aciPath) != 1 {
		t.Fatal("pull policy new went to the network for an image in the store")
	}
	// Without a version, discovery asks for "latest" and the row is marked latest.
	e2 := newEnv(t)
	e2.trust("127.0.0.1/example", key)
	f2 := e2.fetcher(srv.client(0, nil), PullUpdate)
	f2.DiscoveryPort = srv.port()
	k2, err := f2.Fetch(bg(), "127.0.0.1/example/hello", "")
	if err != nil {
		t.Fatalf("Fetch latest: %v", err)
	}
	if img, err := e2.store.Image(k2); err != nil || !img.Latest {
		t.Fatalf("latest image row = %+v, %v", img, err)
	}
}

func TestDiscoveryRefusesOtherNameOrLabels(t *testing.T) {
	root := trusttest.NewKey(t, "Root Signer")
	labels := defaultLabels()
	srv := newServer(t)
	// The server answers for "hello" with a validly signed image named "other".
	wrong := image(t, "127.0.0.1/example/other", labels, "substituted")
	srv.discoverable("127.0.0.1/example", "127.0.0.1/example/hello", "latest", wrong, root.Sign(t, wrong))
	// And for version 2.0 with an image labelled 1.0.
	l1 := map[string]string{"version": "1.0"}
	for k, v := range labels {
		l1[k] = v
	}
	v1img := image(t, "127.0.0.1/example/hello", l1, "old")
	srv.discoverable("127.0.0.1/example", "127.0.0.1/example/hello", "2.0", v1img, root.Sign(t, v1img))

	e := newEnv(t)
	e.trust("", root)
	f := e.fetcher(srv.client(0, nil), PullUpdate)
	f.DiscoveryPort = srv.port()
	for _, ref := range []string{"127.0.0.1/example/hello", "127.0.0.1/example/hello:2.0"} {
		_, err := f.Fetch(bg(), ref, "")
		var mm *MismatchError
		if !errors.As(err, &mm) {
			t.Fatalf("%s: err = %v, want *MismatchError", ref, err)
		}
		e.assertEmpty()
	}
}

func TestTrustKeysFromHTTPS(t *testing.T) {
	key := trusttest.NewKey(t, "Discovered Signer")
	aci := image(t, "127.0.0.1/example/hello", defaultLabels(), "tofu")
	srv := newServer(t)
	srv.discoverable("127.0.0.1/example", "127.0.0.1/example/hello", "latest", aci, key.Sign(t, aci))
	srv.putMeta("/example", srv.meta["/example"]+
		`<meta name="ac-discovery-pubkeys" content="127.0.0.1/example `+srv.URL+`/pubkeys.gpg">`)
	srv.put("/pubkeys.gpg", resource{body: key.ArmoredPublic(t)})

	e := newEnv(t)
	f := e.fetcher(srv.client(0, nil), PullUpdate)
	f.DiscoveryPort = srv.port()
	var u *trust.UnknownSignerError
	if _, err := f.Fetch(bg(), "127.0.0.1/example/hello", ""); !errors.As(err, &u) {
		t.Fatalf("without --trust-keys-from-https: err = %v, want unknown signer", err)
	}
	e.assertEmpty()
	if srv.hit("/pubkeys.gpg") != 0 {
		t.Fatal("keys fetched without --trust-keys-from-https")
	}
	f.TrustKeysFromHTTPS = true
	if _, err := f.Fetch(bg(), "127.0.0.1/example/hello", ""); err != nil {
		t.Fatalf("with --trust-keys-from-https: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.local, "trustedkeys", "prefix.d", "127.0.0.1", "example", "hello", key.Fingerprint)); err != nil {
		t.Fatalf("discovered key not trusted for the image name: %v", err)
	}
	if !strings.Contains(e.log.String(), "trusting a key discovered over https") {
		t.Fatalf("no warning; log: %s", e.log)
	}
}

// TestTrustKeysFromHTTPSNotOverATrustedKey: when a key trusted for the
// name made a signature that is refused (expired, or by an expired key),
// --trust-keys-from-https does not go looking for other keys to accept
// the image by an unknown co-signer: the image is refused and no key is
// fetched.
func TestTrustKeysFromHTTPSNotOverATrustedKey(t *testing.T) {
	aci := image(t, "127.0.0.1/example/hello", defaultLabels(), "tofu")
	for _, tc := range []struct {
		name    string
		trusted *trusttest.Key
		sign    []trusttest.SigOption
		want    error
	}{
		{"signature expired", trusttest.NewKey(t, "Old Signer"), []trusttest.SigOption{trusttest.SigExpired()}, trust.ErrSignatureExpired},
		{"key expired", trusttest.NewKey(t, "Old Signer", trusttest.WithExpiry(-time.Minute)), nil, trust.ErrKeyExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			discovered := trusttest.NewKey(t, "Discovered Signer")
			sig := append(tc.trusted.Sign(t, aci, tc.sign...), discovered.Sign(t, aci)...)
			srv := newServer(t)
			srv.discoverable("127.0.0.1/example", "127.0.0.1/example/hello", "latest", aci, sig)
			srv.putMeta("/example", srv.meta["/example"]+
				`<meta name="ac-discovery-pubkeys" content="127.0.0.1/example `+srv.URL+`/pubkeys.gpg">`)
			srv.put("/pubkeys.gpg", resource{body: discovered.ArmoredPublic(t)})

			e := newEnv(t)
			e.trust("127.0.0.1/example", tc.trusted)
			f := e.fetcher(srv.client(0, nil), PullUpdate)
			f.DiscoveryPort = srv.port()
			f.TrustKeysFromHTTPS = true
			_, err := f.Fetch(bg(), "127.0.0.1/example/hello", "")
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			e.assertEmpty()
			if srv.hit("/pubkeys.gpg") != 0 {
				t.Fatal("keys were discovered although a trusted key's signature was refused")
			}
			if _, err := os.Stat(filepath.Join(e.local, "trustedkeys", "prefix.d", "127.0.0.1", "example", "hello", discovered.Fingerprint)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the co-signer's key was trusted: %v", err)
			}
		})
	}
}

func TestDependenciesFetchedAndRendered(t *testing.T) {
	key := trusttest.NewKey(t, "Example Signer")
	srv := newServer(t)
	labels := defaultLabels()
	base := storetest.BuildACI(t, "127.0.0.1/example/base", labels,
		storetest.File{Name: "base.txt", Body: []byte("from base")})
	srv.discoverable("127.0.0.1/example", "127.0.0.1/example/base", "latest", base, key.Sign(t, base))

	appManifest := storetest.Manifest("127.0.0.1/example/app", labels, depOn(t, "127.0.0.1/example/base"))
	app := storetest.BuildACIWithManifest(t, appManifest, storetest.File{Name: "app.txt", Body: []byte("from app")})
	e := newEnv(t)
	e.trust("127.0.0.1/example", key)
	path := e.writeFile("app.aci", app)
	e.writeFile("app.aci.asc", key.Sign(t, app))

	f := e.fetcher(srv.client(0, nil), PullUpdate)
	f.DiscoveryPort = srv.port()
	got, err := f.Fetch(bg(), path, "")
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if _, err := e.store.Image(storetest.ImageID(base)); err != nil {
		t.Fatalf("dependency not in the store: %v", err)
	}
	tree, err := e.store.Render(bg(), got)
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{"base.txt": "from base", "app.txt": "from app"} {
		b, err := os.ReadFile(filepath.Join(e.store.TreePath(tree), "rootfs", file))
		if err != nil || string(b) != want {
			t.Errorf("rendered %s = %q, %v", file, b, err)
		}
	}
}

func TestDependencyCycle(t *testing.T) {
	key := trusttest.NewKey(t, "Example Signer")
	srv := newServer(t)
	labels := defaultLabels()
	a := storetest.BuildACIWithManifest(t, storetest.Manifest("127.0.0.1/example/a", labels, depOn(t, "127.0.0.1/example/b")))
	b := storetest.BuildACIWithManifest(t, storetest.Manifest("127.0.0.1/example/b", labels, depOn(t, "127.0.0.1/example/a")))
	srv.discoverable("127.0.0.1/example", "127.0.0.1/example/a", "latest", a, key.Sign(t, a))
	srv.discoverable("127.0.0.1/example", "127.0.0.1/example/b", "latest", b, key.Sign(t, b))
	e := newEnv(t)
	e.trust("127.0.0.1/example", key)
	f := e.fetcher(srv.client(0, nil), PullNew)
	f.DiscoveryPort = srv.port()
	if _, err := f.Fetch(bg(), "127.0.0.1/example/a", ""); !errors.Is(err, ErrDependencyCycle) {
		t.Fatalf("err = %v, want ErrDependencyCycle", err)
	}
}

// TestStreamingMemory fetches an image much larger than what the fetch may
// allocate: the bytes must stream, never be held whole.
func TestStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 48 MiB image; skipped with -short")
	}
	const size = 48 << 20
	key := trusttest.NewKey(t, "Big Signer")
	big := make([]byte, size)
	for i := range big {
		big[i] = byte(i * 7 % 251)
	}
	aci := storetest.BuildACI(t, "example.com/big", nil, storetest.File{Name: "big.bin", Body: big})
	gz := storetest.Gzip(aci)
	e := newEnv(t)
	e.trust("example.com/big", key)
	path := e.writeFile("big.aci", gz)
	e.writeFile("big.aci.asc", key.Sign(t, gz))
	big, aci, gz = nil, nil, nil

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := e.fetcher(nil, PullUpdate).Fetch(bg(), path, ""); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/3 {
		t.Fatalf("fetching a %d MiB image allocated %d MiB", size>>20, alloc>>20)
	}
}

// TestInterruptedDownloadLeavesNothing: a cancelled or truncated download is
// an error and nothing of it becomes visible.
func TestInterruptedDownloadLeavesNothing(t *testing.T) {
	key := trusttest.NewKey(t, "Hello Signer")
	aci := storetest.BuildACI(t, "example.com/hello", nil, storetest.File{Name: "big", Body: bytes.Repeat([]byte("0123456789"), 100000)})
	srv := newServer(t)
	srv.put("/hello.aci.asc", resource{body: key.Sign(t, aci)})
	started := make(chan struct{}, 1)
	srv.put("/hello.aci", resource{handler: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(aci)))
		w.Write(aci[:len(aci)/2])
		w.(http.Flusher).Flush()
		started <- struct{}{}
		<-r.Context().Done()
	}})
	srv.put("/short.aci.asc", resource{body: key.Sign(t, aci)})
	srv.put("/short.aci", resource{handler: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(aci)))
		w.Write(aci[:len(aci)/2])
	}})
	e := newEnv(t)
	e.trust("example.com/hello", key)
	f := e.fetcher(srv.client(0, nil), PullUpdate)

	ctx, cancel := context.WithCancel(bg())
	go func() {
		<-started
		cancel()
	}()
	if _, err := f.Fetch(ctx, srv.URL+"/hello.aci", ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled fetch: err = %v, want context.Canceled", err)
	}
	e.assertEmpty()
	if _, err := f.Fetch(bg(), srv.URL+"/short.aci", ""); err == nil {
		t.Fatal("truncated download accepted")
	}
	e.assertEmpty()
}
