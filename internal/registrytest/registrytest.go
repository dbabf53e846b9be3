// Package registrytest runs a real Docker registry (the distribution
// registry, Debian's docker-registry package) on 127.0.0.1 for tests, with
// TLS from a CA made for the test and htpasswd (bcrypt) authentication, and
// pushes images to it with skopeo.
//
// Invariants: every registry is stopped and its files removed at the end of
// the test that started it; nothing listens beyond 127.0.0.1. The
// registry's log (one line per request) is kept so that tests can count the
// blobs it served.
package registrytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Binary is the registry's path in Debian's docker-registry package.
const Binary = "/usr/bin/docker-registry"

// Registry is a running registry.
type Registry struct {
	Host     string // 127.0.0.1:<port>
	CAFile   string // PEM of the CA that signed its certificate
	CertDir  string // holds ca.crt, for skopeo's --dest-cert-dir
	User     string
	Password string

	log *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Start starts a registry, or skips the test saying why it cannot.
func Start(t testing.TB) *Registry {
	t.Helper()
	for _, bin := range []string{Binary, "htpasswd"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("a real registry needs %s (Debian packages docker-registry and apache2-utils): %v", bin, err)
		}
	}
	dir := t.TempDir()
	r := &Registry{User: "rkt", Password: "registry-secret", CertDir: filepath.Join(dir, "certs"), log: &lockedBuffer{}}
	if err := os.Mkdir(r.CertDir, 0o755); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := makeCert(t, dir, r.CertDir)
	r.CAFile = filepath.Join(r.CertDir, "ca.crt")
	htpasswd := filepath.Join(dir, "htpasswd")
	if out, err := exec.Command("htpasswd", "-B", "-b", "-c", htpasswd, r.User, r.Password).CombinedOutput(); err != nil {
		t.Fatalf("htpasswd: %v: %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.Host = l.Addr().String()
	l.Close()
	conf := fmt.Sprintf(`version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  tls:
    certificate: %s
    key: %s
auth:
  htpasswd:
    realm: rkt-test
    path: %s
`, filepath.Join(dir, "data"), r.Host, certFile, keyFile, htpasswd)
	confFile := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(Binary, "serve", confFile)
	cmd.Stdout, cmd.Stderr = r.log, r.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", Binary, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	if err := r.waitReady(); err != nil {
		t.Fatalf("registry on %s: %v\n%s", r.Host, err, r.log.String())
	}
	return r
}

func (r *Registry) waitReady() error {
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(r.CAFile)
	if err != nil {
		return err
	}
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.Get("https://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
			err = fmt.Errorf("GET /v2/ without credentials: %s, want 401", resp.Status)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// makeCert writes a CA (certDir/ca.crt) and a server certificate for
// 127.0.0.1 signed by it; it returns the server's cert and key files.
func makeCert(t testing.TB, dir, certDir string) (string, string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rkt test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write := func(path, typ string, b []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(certDir, "ca.crt"), "CERTIFICATE", caDER)
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	write(certFile, "CERTIFICATE", der)
	write(keyFile, "EC PRIVATE KEY", keyDER)
	return certFile, keyFile
}

// Push copies an image from src (a skopeo transport reference, e.g.
// "oci:/path/layout:tag") to repo:tag in the registry with skopeo.
func (r *Registry) Push(t testing.TB, src, repoTag string) {
	t.Helper()
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skipf("pushing needs skopeo (Debian package skopeo): %v", err)
	}
	out, err := exec.Command("skopeo", "--insecure-policy", "copy", "-q",
		"--dest-cert-dir", r.CertDir, "--dest-creds", r.User+":"+r.Password,
		src, "docker://"+r.Host+"/"+repoTag).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo copy %s to %s: %v: %s", src, repoTag, err, out)
	}
}

// BlobGets lists the digests of the blobs of repo the registry served
// with a GET so far (from its access log), in order, repeats included.
func (r *Registry) BlobGets(repo string) []string {
	var got []string
	prefix := `"GET /v2/` + repo + `/blobs/`
	for _, line := range strings.Split(r.log.String(), "\n") {
		_, rest, ok := strings.Cut(line, prefix)
		if !ok {
			continue
		}
		digest, status, _ := strings.Cut(rest, `" `)
		if strings.HasPrefix(status, "200 ") {
			got = append(got, strings.TrimSuffix(digest, " HTTP/1.1"))
		}
	}
	return got
}

// Log is what the registry logged so far.
func (r *Registry) Log() string { return r.log.String() }
