package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/rkt/rkt/api/v1"
	"github.com/rkt/rkt/stage0/trust/trusttest"
	"github.com/rkt/rkt/store/storetest"
)

func TestImageCheckSignature(t *testing.T) {
	e := newEnv(t)
	k := trusttest.NewKey(t, "Signer <signer@example.com>")
	rootKey := trusttest.NewKey(t, "Root <root@example.com>")
	stranger := trusttest.NewKey(t, "Stranger <x@example.org>")
	trusttest.WriteKeyring(t, e.system, "example.com/app", k)
	trusttest.WriteKeyring(t, e.local, "", rootKey)

	aci := storetest.BuildACI(t, "example.com/app", testLabels)
	id := storetest.ImageID(aci)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.aci", aci)
	write("good.aci.asc", k.Sign(t, aci))
	byRoot := write("root.aci", aci)
	write("root.aci.asc", rootKey.Sign(t, aci))
	plain := write("plain.aci", aci)
	strangerSig := write("stranger.sig", stranger.Sign(t, aci))

	r := e.rkt(t, "", "image", "check-signature", good)
	want := "verified: example.com/app " + id[:len("sha512-")+32] + "\n" +
		"signer: Signer <signer@example.com> (" + k.Fingerprint + ")\n" +
		"trusted by: prefix \"example.com/app\"\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("trusted: rc %d, stdout %q, want %q (stderr %q)", r.code, r.stdout, want, r.stderr)
	}

	r = e.rkt(t, "", "image", "check-signature", "--format=json", byRoot)
	var v v1.SignatureVerdict
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 0 || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("root JSON: rc %d, stdout %q: %v", r.code, r.stdout, err)
	}
	if !v.Verified || !v.Root || v.ImageID != id || v.Signer.Fingerprint != rootKey.Fingerprint || v.Labels["version"] != "1.0" {
		t.Errorf("root verdict %+v", v)
	}

	r = e.rkt(t, "", "image", "check-signature", "--signature", strangerSig, plain)
	if r.code != 254 || !strings.HasPrefix(r.stdout, "not verified: ") || !strings.HasPrefix(r.stderr, "image check-signature: ") {
		t.Errorf("untrusted: rc %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = e.rkt(t, "", "image", "check-signature", "--format=json", plain)
	v = v1.SignatureVerdict{}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 254 || v.Verified || v.Error == "" {
		t.Errorf("unsigned JSON: rc %d, stdout %q: %v", r.code, r.stdout, err)
	}

	if _, err := os.Stat(e.dir); !os.IsNotExist(err) {
		t.Errorf("check-signature created the data dir: %v", err)
	}
	if r := e.rkt(t, "", "image", "check-signature"); r.code != 254 {
		t.Errorf("no argument: rc %d, want 254", r.code)
	}
}
