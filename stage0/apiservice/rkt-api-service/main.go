// Command rkt-api-service serves rkt's read-only v1alpha gRPC API. Users
// run it as `rkt api-service`, which execs it with the global flags
// resolved (--dir is the data directory the configuration names); it
// lives in a binary of its own so that the gRPC libraries' start-up cost
// is paid by the service alone, not by every rkt command
// (Documentation/devel/libraries.md).
//
// Exit codes are rkt's: 0 after SIGINT or SIGTERM, 254 on any failure.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/rkt/rkt/stage0/apiservice"
)

func main() {
	var (
		flags  apiservice.Flags
		listen string
		debug  bool
	)
	fs := flag.NewFlagSet("api-service", flag.ContinueOnError)
	fs.StringVar(&flags.DataDir, "dir", "/var/lib/rkt", "rkt data directory")
	fs.StringVar(&flags.SystemConfigDir, "system-config", "/usr/lib/rkt", "system configuration directory")
	fs.StringVar(&flags.LocalConfigDir, "local-config", "/etc/rkt", "local configuration directory")
	fs.StringVar(&flags.UserConfigDir, "user-config", "", "user configuration directory")
	fs.StringVar(&flags.InsecureOptions, "insecure-options", "none", "the security features rkt was told to disable")
	fs.BoolVar(&flags.TrustKeysFromHTTPS, "trust-keys-from-https", false, "whether rkt trusts keys fetched from https")
	fs.BoolVar(&debug, "debug", false, "print out more debug information to stderr")
	fs.StringVar(&listen, "listen", "", "address to listen for client API requests (default "+apiservice.DefaultListen+")")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(254)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "api-service: unexpected arguments %q\n", fs.Args())
		os.Exit(254)
	}
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := apiservice.Serve(ctx, apiservice.Options{
		Listen: listen,
		Flags:  flags,
		Log:    log,
		Ready: func(addrs []net.Addr) {
			for _, a := range addrs {
				// rkt 1.30's words; scripts and tests wait for them.
				fmt.Fprintf(os.Stderr, "api-service: Listening on %s\n", a)
			}
			fmt.Fprintln(os.Stderr, "api-service: API service running")
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "api-service: %v\n", err)
		os.Exit(254)
	}
	fmt.Fprintln(os.Stderr, "api-service: API service exiting")
}
