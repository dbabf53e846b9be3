package main

import (
	"github.com/spf13/cobra"
)

func newCompletionCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print the shell completion script for bash, zsh or fish",
		Long: `Print the completion script for SHELL. Installed copies live in
share/bash-completion/completions/rkt, share/zsh/vendor-completions/_rkt
and share/fish/vendor_completions.d/rkt.fish.`,
		Args:      usageArgs(cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)),
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE: func(cmd *cobra.Command, args []string) error {
			switch args[0] {
			case "zsh":
				return cmd.Root().GenZshCompletion(g.stdout)
			case "fish":
				return cmd.Root().GenFishCompletion(g.stdout, true)
			}
			return cmd.Root().GenBashCompletionV2(g.stdout, true)
		},
	}
}
