package main

import (
	"fmt"
	"net"

	"github.com/rkt/rkt/stage0/metadata"
	"github.com/spf13/cobra"
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
on the host's network, the host's address on the pod's network otherwise.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if port < 0 || port > 65535 {
				return usagef("invalid --listen-port %d", port)
			}
			return metadata.Serve(cmd.Context(), metadata.Options{
				Port:       port,
				SocketPath: socket,
				Log:        g.log,
				Ready: func(a net.Addr) {
					g.log.Info(fmt.Sprintf("listening on %s and %s", socket, a))
				},
			})
		},
	}
	cmd.Flags().IntVar(&port, "listen-port", metadata.DefaultPort, "listen port")
	cmd.Flags().StringVar(&socket, "socket", metadata.DefaultSocketPath, "registration socket")
	_ = cmd.Flags().MarkHidden("socket")
	return cmd
}
