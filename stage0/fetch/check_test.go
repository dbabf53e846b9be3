package fetch

import (
	"crypto"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rkt/rkt/common/tarsafe"
	"github.com/rkt/rkt/stage0/trust"
	"github.com/rkt/rkt/stage0/trust/trusttest"
	"github.com/rkt/rkt/store/storetest"
)

func TestCheckVerified(t *testing.T) {
	key := trusttest.NewKey(t, "Hello Signer <hello@example.com>")
	aci := image(t, "example.com/hello", map[string]string{"version": "0.0.1", "os": "linux"}, "ci")
	for _, tc := range []struct {
		name string
		data []byte
		hash crypto.Hash
	}{
		{"tar", aci, crypto.SHA512},
		{"tar-sha384", aci, crypto.SHA384},
		{"zstd", storetest.Zstd(t, aci), crypto.SHA512},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.trust("example.com/hello", key)
			path := e.writeFile("hello.aci", tc.data)
			e.writeFile("hello.aci.asc", key.Sign(t, tc.data, trusttest.WithHash(tc.hash)))
			v, err := Check(bg(), CheckOptions{Keystore: e.ks}, path, "")
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			out, _ := json.Marshal(v)
			var got map[string]any
			json.Unmarshal(out, &got)
			want := map[string]any{
				"verified": true,
				"name":     "example.com/hello",
				"labels":   map[string]any{"version": "0.0.1", "os": "linux"},
				"imageID":  storetest.ImageID(aci),
				"signer": map[string]any{
					"userID":      "Hello Signer <hello@example.com>",
					"fingerprint": key.Fingerprint,
					"keyID":       v.Signer.KeyID,
				},
				"trustedPrefix": "example.com/hello",
				"root":          false,
			}
			if len(v.Signer.KeyID) != 16 {
				t.Errorf("keyID = %q, want 16 hex digits", v.Signer.KeyID)
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(want)
			if string(gotJSON) != string(wantJSON) {
				t.Fatalf("verdict JSON\n got %s\nwant %s", gotJSON, wantJSON)
			}
		})
	}
}

func TestCheckRootKeyOverHTTPS(t *testing.T) {
	key := trusttest.NewKey(t, "Root Signer")
	aci := storetest.Gzip(image(t, "example.com/hello", nil, "ci"))
	srv := newServer(t)
	srv.put("/hello.aci", resource{body: aci})
	srv.put("/sig", resource{body: key.Sign(t, aci)})
	e := newEnv(t)
	e.trust("", key)
	v, err := Check(bg(), CheckOptions{Keystore: e.ks, Client: srv.client(0, nil)}, srv.URL+"/hello.aci", srv.URL+"/sig")
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if !v.Verified || !v.Root || v.TrustedPrefix != "" {
		t.Fatalf("verdict = %+v, want verified by a root key", v)
	}
}

func TestCheckRefusals(t *testing.T) {
	good := trusttest.NewKey(t, "Good Signer")
	stranger := trusttest.NewKey(t, "Stranger")
	aci := image(t, "example.com/hello", nil, "hello world")
	tampered := []byte(strings.Replace(string(aci), "hello world", "jello world", 1))
	hostile := storetest.HostileCases()[0]
	evil := storetest.RawTar(t, hostile.Entries...)

	cases := []struct {
		name  string
		data  []byte
		sig   []byte
		check func(t *testing.T, v map[string]any, err error)
	}{
		{"unknown signer", aci, stranger.Sign(t, aci), func(t *testing.T, v map[string]any, err error) {
			var u *trust.UnknownSignerError
			if !errors.As(err, &u) {
				t.Fatalf("err = %v", err)
			}
			if v["name"] != "example.com/hello" || v["imageID"] != storetest.ImageID(aci) {
				t.Errorf("verdict lost what was learnt: %v", v)
			}
			if s := v["signer"].(map[string]any); s["keyID"] == "" && s["fingerprint"] == "" {
				t.Errorf("verdict does not name the unknown signer: %v", v)
			}
		}},
		{"tampered", tampered, good.Sign(t, aci, trusttest.WithHash(crypto.SHA512)), func(t *testing.T, v map[string]any, err error) {
			if !errors.Is(err, trust.ErrBadSignature) {
				t.Fatalf("err = %v", err)
			}
			if v["trustedPrefix"] != "example.com/hello" {
				t.Errorf("verdict does not name the prefix of the key: %v", v)
			}
		}},
		{"missing", aci, nil, func(t *testing.T, v map[string]any, err error) {
			if !errors.Is(err, ErrNoSignature) {
				t.Fatalf("err = %v", err)
			}
		}},
		{"hostile tar", evil, good.Sign(t, evil), func(t *testing.T, v map[string]any, err error) {
			var ee *tarsafe.EntryError
			if !errors.As(err, &ee) {
				t.Fatalf("err = %v, want *tarsafe.EntryError", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.trust("example.com/hello", good)
			// The hostile tar is signed and trusted: its tar is what is
			// refused, after verification.
			e.trust("example.com/hostile", good)
			path := e.writeFile("img.aci", tc.data)
			if tc.sig != nil {
				e.writeFile("img.aci.asc", tc.sig)
			}
			verdict, err := Check(bg(), CheckOptions{Keystore: e.ks}, path, "")
			if err == nil {
				t.Fatal("Check accepted the image")
			}
			out, _ := json.Marshal(verdict)
			var v map[string]any
			json.Unmarshal(out, &v)
			if v["verified"] != false || v["error"] != err.Error() {
				t.Fatalf("verdict = %s for error %v", out, err)
			}
			tc.check(t, v, err)
		})
	}
}

// TestSHA512HandOver: a v4 SHA-512 signature's hash starts empty, so the
// image-ID state can stand in for it; a SHA-256 one's cannot.
func TestSHA512HandOver(t *testing.T) {
	key := trusttest.NewKey(t, "Signer")
	for h, want := range map[crypto.Hash]bool{crypto.SHA512: true, crypto.SHA256: false} {
		sig, err := trust.ParseSignature(key.Sign(t, []byte("x"), trusttest.WithHash(h)))
		if err != nil {
			t.Fatal(err)
		}
		if got := isFreshSHA512(sig.NewHash()); got != want {
			t.Errorf("%v: isFreshSHA512 = %v, want %v", h, got, want)
		}
	}
}
