package main

import (
	"fmt"

	"github.com/rkt/rkt/stage0/podspec"
	podrun "github.com/rkt/rkt/stage0/run"
	"github.com/spf13/cobra"
)

func newPrepareCmd(g *globalFlags) *cobra.Command {
	return g.newPlanCmd(&cobra.Command{
		Use:   "prepare [--quiet] [pod flags...] IMAGE [image flags...] [-- image-args... ---]...",
		Short: "Prepare to run image(s) in a pod in rkt",
		Long: `Prepares a pod as run does, without starting it, and prints its UUID; start
it with rkt run-prepared UUID.`,
	}, func(cmd *cobra.Command, plan *podspec.Plan) error {
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
	})
}
