package apiservice

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"google.golang.org/grpc"

	"github.com/rkt/rkt/api/v1alpha"
)

// stopGrace bounds the wait for requests under way when the service
// stops.
const stopGrace = 10 * time.Second

// Options say where and over what the service runs.
type Options struct {
	// Listen is the TCP address to listen on; "" is DefaultListen. It
	// must be "" when systemd passes sockets.
	Listen string
	Flags  Flags
	Log    *slog.Logger
	// Ready, when set, is called with the addresses once the service
	// accepts connections.
	Ready func([]net.Addr)
}

// Serve runs the service until ctx is done, then stops it, letting
// requests under way finish. It listens on the sockets systemd passed
// (LISTEN_FDS), else on opts.Listen.
func Serve(ctx context.Context, opts Options) error {
	ls, err := listeners(opts.Listen)
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	v1alpha.RegisterPublicAPIServer(srv, New(opts.Flags, opts.Log, ctx.Done()))
	errc := make(chan error, len(ls))
	addrs := make([]net.Addr, len(ls))
	for i, l := range ls {
		addrs[i] = l.Addr()
		go func() { errc <- srv.Serve(l) }()
	}
	if opts.Ready != nil {
		opts.Ready(addrs)
	}
	select {
	case <-ctx.Done():
		// Streams end on ctx too; a request stuck on the disk does not
		// hold the stop for long.
		t := time.AfterFunc(stopGrace, srv.Stop)
		srv.GracefulStop()
		t.Stop()
		return nil
	case err := <-errc:
		srv.Stop()
		return fmt.Errorf("serving the API: %w", err)
	}
}

// listeners are systemd's sockets, or a TCP listener on listen.
func listeners(listen string) ([]net.Listener, error) {
	ls, err := activation.Listeners()
	if err != nil {
		return nil, fmt.Errorf("reading the sockets systemd passed: %w", err)
	}
	var got []net.Listener
	for _, l := range ls {
		if l != nil { // not a stream socket
			got = append(got, l)
		}
	}
	if len(got) > 0 {
		if listen != "" {
			for _, l := range got {
				l.Close()
			}
			return nil, ErrListenWithSockets
		}
		return got, nil
	}
	if listen == "" {
		listen = DefaultListen
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", listen, err)
	}
	return []net.Listener{l}, nil
}
