package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/rkt/rkt/stage0/pod"
	"github.com/spf13/cobra"
)

func newGCCmd(g *globalFlags) *cobra.Command {
	var (
		grace, expirePrepared time.Duration
		markOnly              bool
	)
	cmd := &cobra.Command{
		Use:   "gc [--grace-period=duration] [--expire-prepared=duration] [--mark-only]",
		Short: "Garbage collect rkt pods no longer in use",
		Long: `Exited pods are marked, and removed once they have been marked for
--grace-period; prepared pods older than --expire-prepared and failed
prepares are removed. Mounts left under a pod are unmounted first. A pod
whose stage1 gc fails is kept and tried again by the next gc; rkt rm
removes it regardless.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := ensureSuperuser(); err != nil {
				return err
			}
			if grace < 0 || expirePrepared < 0 {
				return usagef("durations must not be negative")
			}
			dir, err := g.dataDir(cmd)
			if err != nil {
				return err
			}
			opts, err := g.podGCOptions(cmd)
			if err != nil {
				return err
			}
			opts.GracePeriod, opts.ExpirePrepared, opts.MarkOnly = grace, expirePrepared, markOnly
			opts.RetryStage1GC = true
			res, err := pod.GC(cmd.Context(), dir, opts)
			for _, u := range res.Marked {
				fmt.Fprintf(g.stderr, "gc: moving pod %q to garbage\n", u)
			}
			for _, u := range res.Discarded {
				fmt.Fprintf(g.stderr, "gc: moving pod %q to garbage\n", u)
			}
			for _, u := range res.Removed {
				fmt.Fprintf(g.stderr, "gc: garbage collecting pod %q\n", u)
			}
			for _, u := range slices.Sorted(maps.Keys(res.Failed)) {
				fmt.Fprintf(g.stderr, "gc: pod %q: %v\n", u, res.Failed[u])
			}
			var nc *pod.NotCollectedError
			if errors.As(err, &nc) {
				// Each pod's error is printed above.
				return fmt.Errorf("collecting pods: %d not collected", len(nc.Failed))
			}
			if err != nil {
				return fmt.Errorf("collecting pods: %w", err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&grace, "grace-period", 30*time.Minute, "duration to wait before discarding inactive pods from garbage")
	fl.DurationVar(&expirePrepared, "expire-prepared", 24*time.Hour, "duration to wait before expiring prepared pods")
	fl.BoolVar(&markOnly, "mark-only", false, "if set to true, only the exited pods are moved to the garbage directories, and no removal is done")
	return cmd
}
