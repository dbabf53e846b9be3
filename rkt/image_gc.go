package main

import (
	"fmt"
	"time"

	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/stage0/pod"
	podrun "github.com/rkt/rkt/stage0/run"
	"github.com/rkt/rkt/store"
	"github.com/spf13/cobra"
)

func newImageGCCmd(g *globalFlags) *cobra.Command {
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove images not used within the grace period, and rendered trees no pod uses",
		Long: `Images not used within --grace-period are removed, unless a pod that is
not garbage uses them; so are the rendered trees no such pod uses (they are
rendered again when needed). Pods cannot be prepared meanwhile.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if grace < 0 {
				return usagef("--grace-period must not be negative")
			}
			dir, err := g.dataDir(cmd)
			if err != nil {
				return err
			}
			// Exclusive against run and prepare (shared): no pod is half
			// prepared while the trees in use are read and others removed.
			l, err := podrun.LockPrepare(dir, flock.Exclusive)
			if err != nil {
				return err
			}
			defer l.Close()
			keep, err := pod.TreesInUse(dir)
			if err != nil {
				return fmt.Errorf("collecting garbage: %w", err)
			}
			st, err := g.openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			removed, err := st.GC(store.GCOptions{GracePeriod: grace, KeepTrees: keep})
			for _, key := range removed {
				fmt.Fprintf(g.stderr, "successfully removed aci for image: %q\n", key)
			}
			if err != nil {
				return fmt.Errorf("collecting garbage: %w", err)
			}
			fmt.Fprintf(g.stderr, "gc: %d image(s) successfully removed\n", len(removed))
			return nil
		},
	}
	cmd.Flags().DurationVar(&grace, "grace-period", 24*time.Hour, "duration since an image was last used after which it is removed")
	return cmd
}
