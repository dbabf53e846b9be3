package main

import "github.com/spf13/cobra"

func newCatManifestCmd(g *globalFlags) *cobra.Command {
	var (
		pretty   bool
		uuidFile string
	)
	cmd := &cobra.Command{
		Use:   "cat-manifest UUID",
		Short: "Inspect and print the pod manifest",
		Args:  usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.argPod(cmd, args, uuidFile)
			if err != nil {
				return err
			}
			_, raw, err := p.Manifest()
			if err != nil {
				return err
			}
			return printRawJSON(g.stdout, raw, pretty, "\t", "the manifest of pod "+p.UUID)
		},
	}
	cmd.Flags().BoolVar(&pretty, "pretty-print", true, "apply indent to format the output")
	uuidFileFlag(cmd, &uuidFile)
	return cmd
}
