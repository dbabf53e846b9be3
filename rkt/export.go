package main

import (
	"fmt"
	"io"

	"github.com/rkt/rkt/stage0/export"
	"github.com/rkt/rkt/stage0/pod"
	"github.com/spf13/cobra"
)

func newExportCmd(g *globalFlags) *cobra.Command {
	var (
		app       string
		overwrite bool
	)
	cmd := &cobra.Command{
		Use:   "export [--app=APPNAME] UUID OUTPUT_ACI_FILE",
		Short: "Export an app from an exited pod to an ACI file",
		Long: `The app's rootfs as the pod left it, with its image manifest, is written
as an uncompressed ACI. --app is needed when the pod has more than one app.`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := ensureSuperuser(); err != nil {
				return err
			}
			out := args[1]
			if !overwrite {
				if err := checkAbsent(out); err != nil {
					return err
				}
			}
			dir, err := g.dataDir(cmd)
			if err != nil {
				return err
			}
			p, err := pod.Get(dir, args[0])
			if err != nil {
				return err
			}
			st, err := g.openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			return writeOutput(out, overwrite, func(w io.Writer) error {
				name, err := export.App(cmd.Context(), p, app, st, w)
				if err == nil {
					g.log.Debug(fmt.Sprintf("exported app %s of pod %s", name, p.UUID))
				}
				return err
			})
		},
	}
	cmd.Flags().StringVar(&app, "app", "", "name of the app to export within the specified pod")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "overwrite the output ACI file if it exists")
	return cmd
}
