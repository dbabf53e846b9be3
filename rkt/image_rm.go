package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newImageRmCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "rm IMAGE...",
		Short: "Remove images (by ID or name) from the local store",
		Args:  usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			var failed []error
			for _, arg := range args {
				err := func() error {
					key, err := resolveImage(st, arg)
					if err != nil {
						return err
					}
					if err := st.Remove(key); err != nil {
						return err
					}
					fmt.Fprintf(g.stderr, "successfully removed aci for image: %q\n", key)
					return nil
				}()
				if err != nil {
					failed = append(failed, fmt.Errorf("removing image %q: %w", arg, err))
				}
			}
			return joinFailures(g, "image rm", failed, len(args))
		},
	}
}

// joinFailures prints every failure but the last, which it returns for main
// to print, so that each failing argument is reported once.
func joinFailures(g *globalFlags, name string, failed []error, total int) error {
	if len(failed) == 0 {
		return nil
	}
	for _, err := range failed[:len(failed)-1] {
		fmt.Fprintf(g.stderr, "%s: %v\n", name, err)
	}
	last := failed[len(failed)-1]
	if len(failed) > 1 || total > 1 {
		return fmt.Errorf("%w (%d of %d failed)", last, len(failed), total)
	}
	return last
}
