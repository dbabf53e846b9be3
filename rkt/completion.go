package main

import (
	"github.com/spf13/cobra"
)

func newCompletionCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:       "completion bash",
		Short:     "Print the bash completion script",
		Args:      usageArgs(cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)),
		ValidArgs: []string{"bash"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Root().GenBashCompletionV2(g.stdout, true)
		},
	}
}
