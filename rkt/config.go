package main

import (
	"github.com/spf13/cobra"
)

func newConfigCmd(g *globalFlags) *cobra.Command {
	var pretty bool
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the merged configuration as JSON",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The configuration files' content, as rkt 1.30 printed it:
			// --dir and the default data dir are not configuration.
			c, err := g.config()
			if err != nil {
				return err
			}
			return printJSON(g.stdout, c, pretty)
		},
	}
	cmd.Flags().BoolVar(&pretty, "pretty-print", true, "apply indent to format the output")
	return cmd
}
