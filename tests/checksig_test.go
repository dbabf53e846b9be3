package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// nobodyEnv is an env whose directories live in the world-readable suite
// dir and whose rkt runs as the user nobody. The data dir is never created
// by the test.
func nobodyEnv(t *testing.T) *env {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody to run check-signature without root: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	e := newEnv(t)
	base := worldDir(t, "nobody-")
	e.base = base
	e.dataDir = filepath.Join(base, "data")
	e.localConfig = filepath.Join(base, "local")
	e.systemConfig = filepath.Join(base, "system")
	for _, d := range []string{e.localConfig, e.systemConfig} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	e.binary = worldBinary(t)
	return e
}

// worldDir makes a directory every user can enter in the suite's
// world-readable directory, removed after the test.
func worldDir(t *testing.T, pattern string) string {
	t.Helper()
	base, err := os.MkdirTemp(suiteDir, pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	return base
}

var worldBinaryOnce = sync.OnceValues(func() (string, error) {
	// rkt api-service execs the rkt-api-service beside rkt: copied too,
	// when the build has it.
	if data, err := os.ReadFile(filepath.Join(filepath.Dir(rktBinary), "rkt-api-service")); err == nil {
		if err := os.WriteFile(filepath.Join(suiteDir, "rkt-api-service"), data, 0o755); err != nil {
			return "", err
		}
	}
	dst := filepath.Join(suiteDir, "rkt-world")
	data, err := os.ReadFile(rktBinary)
	if err != nil {
		return "", err
	}
	return dst, os.WriteFile(dst, data, 0o755)
})

// worldBinary returns a copy of the rkt binary under test in the suite's
// world-readable directory: RKT_TEST_BINARY may sit in a checkout that
// only root can enter (a 0700 temporary directory), out of nobody's reach.
func worldBinary(t *testing.T) string {
	t.Helper()
	p, err := worldBinaryOnce()
	if err != nil {
		t.Fatalf("copying the rkt binary where nobody can run it: %v", err)
	}
	return p
}

type verdict struct {
	Verified bool              `json:"verified"`
	Name     string            `json:"name"`
	Labels   map[string]string `json:"labels"`
	ImageID  string            `json:"imageID"`
	Signer   struct {
		UserID      string `json:"userID"`
		Fingerprint string `json:"fingerprint"`
		KeyID       string `json:"keyID"`
	} `json:"signer"`
	TrustedPrefix string `json:"trustedPrefix"`
	Root          bool   `json:"root"`
	Error         string `json:"error"`
}

func parseVerdict(t *testing.T, out string) verdict {
	t.Helper()
	if strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("check-signature --format=json is not one line:\n%s", out)
	}
	var v verdict
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("check-signature --format=json printed %q: %v", out, err)
	}
	return v
}

func TestCheckSignature(t *testing.T) {
	t.Parallel()
	e := nobodyEnv(t)
	k := newKey(t)
	stranger := newKey(t)
	trustPath := e.trustPrefix(e.prefix(), k)
	// The keystore must be readable by nobody.
	for p := trustPath; p != e.localConfig; p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
	os.Chmod(trustPath, 0o644)

	im := e.newImage("app")
	good := e.writeSigned("good.aci", im.aci, k.Sign(t, im.aci))
	untrusted := e.writeSigned("untrusted.aci", im.aci, stranger.Sign(t, im.aci))
	tampered := e.writeSigned("tampered.aci", tamper(t, im.aci), k.Sign(t, im.aci))

	// Trusted: exit 0, the verdict in text.
	out := e.ok("image", "check-signature", good)
	for _, want := range []string{
		fmt.Sprintf("verified: %s %s", im.name, im.short()),
		fmt.Sprintf("signer: %s (%s)", k.UserID, k.Fingerprint),
		fmt.Sprintf("trusted by: prefix %q", e.prefix()),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check-signature output lacks %q:\n%s", want, out)
		}
	}
	out = e.ok("image", "check-signature", "--format=json", good)
	v := parseVerdict(t, out)
	if !v.Verified || v.Name != im.name || v.ImageID != im.id || v.Signer.Fingerprint != k.Fingerprint ||
		v.Signer.UserID != k.UserID || v.TrustedPrefix != e.prefix() || v.Root || v.Error != "" || v.Labels["version"] != "1.0" {
		t.Errorf("check-signature JSON verdict = %+v", v)
	}

	// --signature given explicitly.
	sig := e.write("detached.sig", k.Sign(t, im.aci))
	plain := e.write("plain.aci", im.aci)
	e.ok("image", "check-signature", "--signature", sig, plain)

	// Untrusted and tampered: exit 254 with the verdict still printed.
	for _, c := range []struct{ name, file string }{{"untrusted", untrusted}, {"tampered", tampered}} {
		out, _ := e.fails(254, "image", "check-signature", "--format=json", c.file)
		v := parseVerdict(t, out)
		if v.Verified || v.Error == "" {
			t.Errorf("%s: JSON verdict = %+v, want verified false and an error", c.name, v)
		}
		_, stderr := e.fails(254, "image", "check-signature", c.file)
		if stderr == "" {
			t.Errorf("%s: no diagnostic on stderr", c.name)
		}
	}

	// Over HTTPS.
	e.site.serveFile("app.aci", im.aci)
	e.site.serveFile("app.aci.asc", k.Sign(t, im.aci))
	e.ok("image", "check-signature", e.site.url("app.aci"))

	// No store was touched or created.
	if _, err := os.Stat(e.dataDir); !os.IsNotExist(err) {
		t.Errorf("check-signature created the data dir %s (%v)", e.dataDir, err)
	}
}
