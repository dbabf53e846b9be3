package main

import (
	"fmt"
	"runtime"

	"github.com/rkt/rkt/stage0/version"
	"github.com/spf13/cobra"
)

func newVersionCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and exit",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(g.stdout, "rkt Version: %s\nappc Version: %s\nGo Version: %s\nGo OS/Arch: %s/%s\nFeatures: %s\n",
				version.Version, version.AppcVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH, version.Features)
			return err
		},
	}
}
