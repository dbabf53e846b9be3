package main

import (
	"github.com/spf13/cobra"
)

func newImageCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Operate on images in the local store",
		Args:  cobra.ArbitraryArgs,
		RunE:  helpOrUnknown,
	}
	cmd.AddCommand(
		newImageListCmd(g),
	)
	return cmd
}
