package main

import (
	"errors"
	"fmt"
	"net"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/spf13/cobra"

	"github.com/rkt/rkt/stage0/metadata"
)

func newMetadataServiceCmd(g *globalFlags) *cobra.Command {
	var (
		port   int
		socket string
	)
	cmd := &cobra.Command{
		Use:   "metadata-service",
		Short: "Run the appc metadata service for pods started with --mds-register",
		Long: `Pods register over the unix socket (root only) and read their metadata
over TCP at AC_METADATA_URL=http://<host>:<port>/<token>: 127.0.0.1 for a pod
on the host's network, the host's address on the pod's network otherwise.

Started by systemd with a socket (see systemd.socket(5)), it takes
registrations on that socket, as rkt-metadata.socket gives it.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if port < 0 || port > 65535 {
				return usagef("invalid --listen-port %d", port)
			}
			reg, err := activatedSocket()
			if err != nil {
				return err
			}
			where := socket
			if reg != nil {
				where = reg.Addr().String()
			}
			return metadata.Serve(cmd.Context(), metadata.Options{
				Port:         port,
				SocketPath:   socket,
				Registration: reg,
				Log:          g.log,
				Ready: func(a net.Addr) {
					g.log.Info(fmt.Sprintf("listening on %s and %s", where, a))
				},
			})
		},
	}
	cmd.Flags().IntVar(&port, "listen-port", metadata.DefaultPort, "listen port")
	cmd.Flags().StringVar(&socket, "socket", metadata.DefaultSocketPath, "registration socket")
	_ = cmd.Flags().MarkHidden("socket")
	return cmd
}

var errActivation = errors.New("socket activation")

// activatedSocket is the registration socket systemd passed (LISTEN_FDS,
// for this process), as rkt 1.30 took it: the first socket; nil when
// none was passed.
func activatedSocket() (net.Listener, error) {
	ls, err := activation.Listeners()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errActivation, err)
	}
	if len(ls) == 0 {
		return nil, nil
	}
	for _, l := range ls[1:] {
		if l != nil {
			l.Close()
		}
	}
	if ls[0] == nil {
		return nil, fmt.Errorf("%w: the first socket systemd passed is not a listening stream socket", errActivation)
	}
	return ls[0], nil
}
