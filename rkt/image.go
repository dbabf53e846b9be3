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
		newImageFetchCmd(g),
		newImageRmCmd(g),
		newImageGCCmd(g),
		newImageCatManifestCmd(g),
		newImageExportCmd(g),
		newImageExtractCmd(g),
		newImageRenderCmd(g),
		newImageVerifyCmd(g),
		newImageCheckSignatureCmd(g),
	)
	return cmd
}
