package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func newImageGCCmd(g *globalFlags) *cobra.Command {
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove images not used within the grace period, and unused rendered trees",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if grace < 0 {
				return usagef("--grace-period must not be negative")
			}
			st, err := g.openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			removed, err := st.GC(grace)
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
