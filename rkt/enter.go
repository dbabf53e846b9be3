package main

import (
	podrun "github.com/rkt/rkt/stage0/run"
	"github.com/spf13/cobra"
)

func newEnterCmd(g *globalFlags) *cobra.Command {
	var app string
	cmd := &cobra.Command{
		Use:   "enter [--app=APPNAME] UUID [CMD [ARGS ...]]",
		Short: "Enter the namespaces of an app within a rkt pod",
		Long: `Runs CMD (default: the first of /bin/bash and /bin/sh found in the app) in the
app's rootfs, inside the running pod. --app is needed when the pod has
several apps.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := ensureSuperuser(); err != nil {
				return err
			}
			cfg, err := g.podConfig(cmd)
			if err != nil {
				return err
			}
			return podrun.Enter(cmd.Context(), cfg, args[0], app, args[1:])
		},
	}
	cmd.Flags().StringVar(&app, "app", "", "name of the app to enter within the specified pod")
	// Everything after the UUID is the command, its flags included.
	cmd.Flags().SetInterspersed(false)
	return cmd
}
