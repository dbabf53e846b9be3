package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	podrun "github.com/rkt/rkt/stage0/run"
)

// apiServiceBinary is the program that serves the API. It is a binary of
// its own, so that the gRPC libraries' start-up cost (about 170 page
// faults, Documentation/devel/libraries.md) stays out of every other rkt
// command; `rkt api-service` execs it.
const apiServiceBinary = "rkt-api-service"

// buildLibexecDir is where make install puts rkt-api-service, set by the
// Makefile with -ldflags "-X main.buildLibexecDir=..."; a plain `go build`
// finds it beside the rkt binary only.
var buildLibexecDir string

// execAPIService replaces rkt with the service (tests replace it).
var execAPIService = syscall.Exec

var errNoAPIService = errors.New("the api-service program is not installed")

func newAPIServiceCmd(g *globalFlags) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   `api-service [--listen="localhost:15441"]`,
		Short: "Run API service (experimental)",
		Long: `The API service answers read-only gRPC requests (the v1alpha API) about
the pods and images of the data directory, on the address and port given
by --listen, by default localhost:15441. Specify the address 0.0.0.0 to
listen on all interfaces.

It needs read access to the data directory only (a member of group rkt
can run it), and runs as a systemd socket-activated service too (see
systemd.socket(5)); --listen must then be left out.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := g.dataDir(cmd)
			if err != nil {
				return err
			}
			bin, err := findAPIService()
			if err != nil {
				return err
			}
			argv := []string{apiServiceBinary,
				"--dir=" + dir,
				"--system-config=" + g.systemConfig,
				"--local-config=" + g.localConfig,
				"--user-config=" + g.userConfig,
				"--insecure-options=" + g.insecure.String(),
				"--trust-keys-from-https=" + strconv.FormatBool(g.trustKeysFromHTTPS),
				"--debug=" + strconv.FormatBool(g.debug),
			}
			if listen != "" {
				argv = append(argv, "--listen="+listen)
			}
			if err := execAPIService(bin, argv, os.Environ()); err != nil {
				return fmt.Errorf("starting %s: %w", bin, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen for client API requests")
	return cmd
}

// findAPIService looks for rkt-api-service beside the rkt binary, then in
// the build's libexec directory, as rkt looks for its stage1 images.
func findAPIService() (string, error) {
	dirs := []string{podrun.BinDir()}
	if buildLibexecDir != "" {
		dirs = append(dirs, buildLibexecDir)
	}
	for _, d := range dirs {
		p := filepath.Join(d, apiServiceBinary)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("looking for %s: %w", p, err)
		}
	}
	return "", fmt.Errorf("%w: no %s in %q (make builds it beside rkt; make install puts it in the libexec directory)", errNoAPIService, apiServiceBinary, dirs)
}
