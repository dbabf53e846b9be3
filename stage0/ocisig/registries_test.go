package ocisig

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeRegistriesD(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The docker entry with the longest match that names a lookaside wins,
// then default-docker, as containers/image chooses; "sigstore" is the old
// name of "lookaside".
func TestRegistriesLookup(t *testing.T) {
	dir := writeRegistriesD(t, map[string]string{
		"default.yaml": "default-docker:\n  lookaside: file:///default\n",
		"team.yaml": `docker:
  example.com/team:
    lookaside: https://sigs.example.com/team
  example.com/team/app:
    sigstore: https://old.example.com/app
  example.com/team/app:2:
    lookaside: https://two.example.com
  example.com:
    use-sigstore-attachments: true
`,
		"ignored.yml": "default-docker: [not, read]\n",
	})
	regs, err := LoadRegistries(dir, filepath.Join(dir, "missing"))
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{
		"example.com/team/app:1":                                 "https://old.example.com/app",
		"example.com/team/app:2":                                 "https://two.example.com",
		"example.com/team/web:1":                                 "https://sigs.example.com/team",
		"example.com/teamx/web:1":                                "file:///default", // example.com's entry names none: passed over
		"other.example.com/x/y:1":                                "file:///default",
		"docker.io/library/busybox":                              "file:///default",
		"example.com/team/app@sha256:" + strings.Repeat("0", 64): "https://old.example.com/app",
	} {
		r, err := parseDockerRef(ref)
		if err != nil {
			t.Fatal(err)
		}
		got, err := regs.lookaside(r.identity(), r.repo)
		if err != nil || got != want {
			t.Errorf("%s: lookaside %q (%v), want %q", ref, got, err, want)
		}
	}

	// The same namespace in two files is an error, as for containers/image.
	dup := writeRegistriesD(t, map[string]string{
		"a.yaml": "docker:\n  example.com:\n    lookaside: file:///a\n",
		"b.yaml": "docker:\n  example.com:\n    lookaside: file:///b\n",
	})
	if _, err := LoadRegistries(dup); err == nil || !strings.Contains(err.Error(), "already set") {
		t.Errorf("duplicate namespace: %v", err)
	}
	both := writeRegistriesD(t, map[string]string{"a.yaml": "default-docker:\n  lookaside: file:///a\n  sigstore: file:///b\n"})
	regs, err = LoadRegistries(both)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := regs.lookaside("x/y:1", "x/y"); err == nil {
		t.Error("lookaside and sigstore both set: no error")
	}
}

// An https lookaside (a real TLS server serving the directory skopeo
// wrote) verifies as the file one does; plain http needs AllowHTTP.
func TestLookasideHTTPS(t *testing.T) {
	s := newSimpleSetup(t, "never")
	s.key.trust(t, s.ks, s.reg.host+"/team")
	req := s.reg.request(t, "team/app:1")

	web := httptest.NewTLSServer(http.FileServer(http.Dir(s.la.dir)))
	defer web.Close()
	regsD := writeRegistriesD(t, map[string]string{"web.yaml": fmt.Sprintf("docker:\n  %s/team:\n    lookaside: %s\n", s.reg.host, web.URL)})
	res, err := Verify(verifyCtx(), s.ks, req, Options{RegistriesDirs: []string{regsD}, Client: web.Client()})
	if err != nil || !strings.HasPrefix(res.Source, web.URL+"/team/app@sha256=") {
		t.Fatalf("https lookaside: %+v, %v", res, err)
	}

	plain := httptest.NewServer(http.FileServer(http.Dir(s.la.dir)))
	defer plain.Close()
	regsD = writeRegistriesD(t, map[string]string{"web.yaml": "default-docker:\n  lookaside: " + plain.URL + "\n"})
	if _, err := Verify(verifyCtx(), s.ks, req, Options{RegistriesDirs: []string{regsD}}); err == nil || !strings.Contains(err.Error(), "--insecure-options=http") {
		t.Errorf("http lookaside without AllowHTTP: %v", err)
	}
	if _, err := Verify(verifyCtx(), s.ks, req, Options{RegistriesDirs: []string{regsD}, AllowHTTP: true}); err != nil {
		t.Errorf("http lookaside with AllowHTTP: %v", err)
	}
	// A lookaside that answers with an error fails the check, never
	// passes for "no more signatures".
	broken := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) }))
	defer broken.Close()
	regsD = writeRegistriesD(t, map[string]string{"web.yaml": "default-docker:\n  lookaside: " + broken.URL + "\n"})
	if _, err := Verify(verifyCtx(), s.ks, req, Options{RegistriesDirs: []string{regsD}, Client: broken.Client()}); err == nil || errors.Is(err, ErrNoSignature) {
		t.Errorf("broken lookaside: %v", err)
	}
}
