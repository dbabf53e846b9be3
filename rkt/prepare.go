package main

import (
	"fmt"

	podrun "github.com/rkt/rkt/stage0/run"
	"github.com/spf13/cobra"
)

func newPrepareCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "prepare [--quiet] [pod flags...] IMAGE [image flags...] [-- image-args... ---]...",
		Short: "Prepare to run image(s) in a pod in rkt",
		Long: `Prepares a pod as run does, without starting it, and prints its UUID; start
it with rkt run-prepared UUID.`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			plan, err := g.parsePlan(cmd, "prepare", args)
			if plan == nil {
				return err
			}
			cfg, done, err := g.runConfig(cmd, plan.PullPolicy, plan.Quiet)
			if err != nil {
				return err
			}
			defer done()
			p, err := podrun.Prepare(cmd.Context(), cfg, plan)
			if err != nil {
				return planUsage(err)
			}
			fmt.Fprintln(g.stdout, p.UUID)
			return nil
		},
	}
}
