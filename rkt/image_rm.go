package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/stage0/pod"
	podrun "github.com/rkt/rkt/stage0/run"
	"github.com/spf13/cobra"
)

func newImageRmCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "rm IMAGE...",
		Short: "Remove images (by ID or name) from the local store",
		Long: `The rendered trees that pods use are kept: image gc removes them once no pod
uses them. The layer images of an image from an OCI registry or layout go
with it when no other image uses them; a layer image other images use is
not removed.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := g.dataDir(cmd)
			if err != nil {
				return err
			}
			// Exclusive against run and prepare (shared): no pod is half
			// prepared on a tree while the trees in use are read. Members
			// of group rkt may not be able to take it; they cannot
			// prepare pods either.
			l, err := podrun.LockPrepare(dir, flock.Exclusive)
			if err != nil && !errors.Is(err, fs.ErrPermission) {
				return err
			}
			if l != nil {
				defer l.Close()
			}
			keep, err := pod.TreesOfAllPods(dir)
			if err != nil {
				return fmt.Errorf("removing images: %w", err)
			}
			st, err := g.openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			// Resolve first, then remove each image once: the same image
			// named twice (or by two prefixes of its ID) is not a failure.
			type target struct{ arg, key string }
			var targets []target
			var failed []error
			seenArg, seenKey := map[string]bool{}, map[string]bool{}
			for _, arg := range args {
				if seenArg[arg] {
					continue
				}
				seenArg[arg] = true
				key, err := resolveImage(st, arg)
				if err != nil {
					failed = append(failed, fmt.Errorf("removing image %q: %w", arg, err))
					continue
				}
				if !seenKey[key] {
					seenKey[key] = true
					targets = append(targets, target{arg, key})
				}
			}
			total := len(targets) + len(failed)
			gone := map[string]bool{}
			for _, tg := range targets {
				if gone[tg.key] {
					continue // a layer removed with an image named before it
				}
				removed, err := st.RemoveImage(tg.key, keep)
				for _, k := range removed {
					gone[k] = true
					fmt.Fprintf(g.stderr, "successfully removed aci for image: %q\n", k)
				}
				if err != nil {
					failed = append(failed, fmt.Errorf("removing image %q: %w", tg.arg, err))
				}
			}
			return joinFailures(g, "image rm", failed, total)
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
