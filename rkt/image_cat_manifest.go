package main

import (
	"github.com/rkt/rkt/store"
	"github.com/spf13/cobra"
)

func newImageCatManifestCmd(g *globalFlags) *cobra.Command {
	var pretty bool
	cmd := &cobra.Command{
		Use:   "cat-manifest IMAGE",
		Short: "Print the manifest of an image in the local store",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withImage(cmd, args[0], "", false, func(st *store.Store, key string) error {
				_, raw, err := st.Manifest(key)
				if err != nil {
					return err
				}
				return printRawJSON(g.stdout, raw, pretty, "  ", "the manifest of "+key)
			})
		},
	}
	cmd.Flags().BoolVar(&pretty, "pretty-print", true, "apply indent to format the output")
	return cmd
}
