package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Suite-wide state, set once by TestMain.
var (
	rktBinary string  // path of the rkt binary under test
	suiteDir  string  // world-readable scratch dir of the suite (binary, CA)
	caPEM     string  // path of the test CA certificate (SSL_CERT_FILE)
	servers   *server // the HTTPS (and HTTP) server every test registers on
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "tests: skipping the functional suite: it drives rkt as root (run `go test ./tests/` as root)")
		return 0
	}
	dir, err := os.MkdirTemp("", "rkt-functional-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "tests: creating the suite directory: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Readable by every user: the check-signature test runs the binary as nobody.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "tests: %v\n", err)
		return 1
	}
	suiteDir = dir

	if rktBinary, err = buildBinary(dir); err != nil {
		fmt.Fprintf(os.Stderr, "tests: %v\n", err)
		return 1
	}
	if caPEM, servers, err = startServers(dir); err != nil {
		fmt.Fprintf(os.Stderr, "tests: %v\n", err)
		return 1
	}
	defer servers.close()
	return m.Run()
}

// buildBinary returns $RKT_TEST_BINARY, or builds the rkt binary of this
// module into dir.
func buildBinary(dir string) (string, error) {
	if b := os.Getenv("RKT_TEST_BINARY"); b != "" {
		abs, err := filepath.Abs(b)
		if err != nil {
			return "", fmt.Errorf("resolving RKT_TEST_BINARY: %w", err)
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("using RKT_TEST_BINARY: %w", err)
		}
		return abs, nil
	}
	out := filepath.Join(dir, "rkt")
	cmd := exec.Command("go", "build", "-o", out, "github.com/rkt/rkt/rkt")
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the rkt binary (go build github.com/rkt/rkt/rkt): %w", err)
	}
	return out, nil
}

// server dispatches every request on its first path element to the handler
// a test registered for it.
type server struct {
	mu       sync.Mutex
	handlers map[string]http.Handler
	closers  []func() error
	// httpPort is the port of the plain HTTP listener (80), 0 when it could
	// not be bound.
	httpPort int
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	s.mu.Lock()
	h := s.handlers[first]
	s.mu.Unlock()
	if h == nil {
		http.NotFound(w, r)
		return
	}
	h.ServeHTTP(w, r)
}

func (s *server) register(t *testing.T, slug string, h http.Handler) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.handlers[slug]; dup {
		t.Fatalf("handler for /%s/ registered twice", slug)
	}
	s.handlers[slug] = h
	t.Cleanup(func() {
		s.mu.Lock()
		delete(s.handlers, slug)
		s.mu.Unlock()
	})
}

func (s *server) close() {
	for _, c := range s.closers {
		c()
	}
}

// startServers makes a CA and a "localhost" certificate, writes the CA to
// dir/ca.pem and serves HTTPS on 127.0.0.1:443 (and [::1]:443 if the host
// has IPv6 loopback), plus plain HTTP on 127.0.0.1:80.
func startServers(dir string) (string, *server, error) {
	caCert, caKey, err := newCA()
	if err != nil {
		return "", nil, err
	}
	leaf, err := newLeaf(caCert, caKey)
	if err != nil {
		return "", nil, err
	}
	caPath := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw}), 0o644); err != nil {
		return "", nil, fmt.Errorf("writing the test CA: %w", err)
	}

	s := &server{handlers: map[string]http.Handler{}}
	tlsConf := &tls.Config{Certificates: []tls.Certificate{leaf}}
	// Port 443 is needed because discovery always talks to https://<host>/.
	// Another run of this suite may hold it for a while: wait for it.
	var ln net.Listener
	for deadline := time.Now().Add(5 * time.Minute); ; {
		ln, err = tls.Listen("tcp", "127.0.0.1:443", tlsConf)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return "", nil, fmt.Errorf("listening on 127.0.0.1:443 for appc discovery: %w", err)
		}
		time.Sleep(2 * time.Second)
	}
	serve(s, ln)
	if ln6, err := tls.Listen("tcp", "[::1]:443", tlsConf); err == nil {
		serve(s, ln6)
	}
	if ln80, err := net.Listen("tcp", "127.0.0.1:80"); err == nil {
		s.httpPort = 80
		serve(s, ln80)
	}
	return caPath, s, nil
}

func serve(s *server, ln net.Listener) {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	s.closers = append(s.closers, srv.Close)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "tests: serving %s: %v\n", ln.Addr(), err)
		}
	}()
}

func newCA() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating the CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "rkt functional tests CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing the CA certificate: %w", err)
	}
	return cert, key, nil
}

func newLeaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating the server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("creating the server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
