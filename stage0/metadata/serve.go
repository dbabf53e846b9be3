package metadata

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Options says where Serve listens.
type Options struct {
	// Port is the TCP port pods reach the service on (0: any free port).
	Port int
	// SocketPath is the registration socket (DefaultSocketPath when empty).
	SocketPath string
	// Registration, when set, is the registration listener, made by the
	// caller (systemd socket activation): SocketPath is then neither
	// created nor removed.
	Registration net.Listener
	// Log receives registrations and serving errors; may be nil.
	Log *slog.Logger
	// Ready, when set, is called with the TCP address once both
	// listeners are open.
	Ready func(tcpAddr net.Addr)
}

// Serve runs the metadata service until ctx is done: registration on the
// unix socket (created mode 0600 in a 0755 directory; a stale socket of a
// dead service is replaced, a live one is an error), or on the listener
// given, pods on TCP. It removes a socket it created when it returns.
func Serve(ctx context.Context, opts Options) error {
	ul := opts.Registration
	if ul == nil {
		sock := opts.SocketPath
		if sock == "" {
			sock = DefaultSocketPath
		}
		l, err := listenUnix(sock)
		if err != nil {
			return err
		}
		defer os.Remove(sock)
		ul = l
	}
	defer ul.Close()
	tl, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(opts.Port)))
	if err != nil {
		return fmt.Errorf("listening on port %d: %w", opts.Port, err)
	}
	defer tl.Close()
	svc, err := NewService(tl.Addr().(*net.TCPAddr).Port, opts.Log)
	if err != nil {
		return err
	}
	if opts.Ready != nil {
		opts.Ready(tl.Addr())
	}
	return svc.Serve(ctx, ul, tl)
}

// Serve runs the service on listeners made by the caller (socket
// activation, tests) until ctx is done: registration on reg, pods on pods.
func (s *Service) Serve(ctx context.Context, reg, pods net.Listener) error {
	regSrv := &http.Server{Handler: s.RegistrationHandler(), ReadHeaderTimeout: 10 * time.Second}
	podSrv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- regSrv.Serve(reg) }()
	go func() { errc <- podSrv.Serve(pods) }()
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = regSrv.Shutdown(shut)
	_ = podSrv.Shutdown(shut)
	if first != nil && !errors.Is(first, http.ErrServerClosed) {
		return fmt.Errorf("serving metadata: %w", first)
	}
	return nil
}

// listenUnix opens the registration socket, replacing a stale one.
func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating the directory of %s: %w", path, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("listening on %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("listening on %s: another metadata service is running", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing the stale socket %s: %w", path, err)
		}
	}
	// The umask makes the socket root-only from its creation on.
	l, err := listenUnixMode(path)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	return l, nil
}
