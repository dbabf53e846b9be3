package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/rkt/rkt/store"
	"github.com/spf13/cobra"
)

func newImageVerifyCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "verify [IMAGE...]",
		Short: "Check the rendered trees of images against their hashes, repairing corrupt ones",
		Long: `Re-hashes the rendered tree of each image (every image when none is
named, OCI layer images aside: they are part of their images' trees) and compares it with the hash recorded when it was rendered. A
corrupt tree is rendered again from the image. One line per image is
printed: "<id> <name>: ok", "... corrupt, repaired" or "... error: <why>".`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			var keys []string
			if len(args) == 0 {
				imgs, err := st.Images()
				if err != nil {
					return fmt.Errorf("listing images: %w", err)
				}
				for _, img := range imgs {
					// A layer image is checked within the trees of
					// the images using it: alone, a layer linking
					// to files below it has no tree to render.
					if !img.Layer {
						keys = append(keys, img.Key)
					}
				}
			}
			var failed []error
			for _, arg := range args {
				key, err := resolveImage(st, arg)
				if err != nil {
					failed = append(failed, fmt.Errorf("verifying %q: %w", arg, err))
					continue
				}
				keys = append(keys, key)
			}
			for _, key := range keys {
				label := key
				if img, err := st.Image(key); err == nil {
					label = key + " " + img.Name
				}
				repaired, err := verifyImage(cmd.Context(), st, key)
				switch {
				case err != nil:
					fmt.Fprintf(g.stdout, "%s: error: %v\n", label, err)
					failed = append(failed, fmt.Errorf("verifying %s: %w", key, err))
				case repaired:
					fmt.Fprintf(g.stdout, "%s: corrupt, repaired\n", label)
				default:
					fmt.Fprintf(g.stdout, "%s: ok\n", label)
				}
			}
			return joinFailures(g, "image verify", failed, len(keys))
		},
	}
}

// verifyImage checks key's rendered tree, rendering it first if needed,
// and rebuilds it when corrupt.
func verifyImage(ctx context.Context, st *store.Store, key string) (repaired bool, err error) {
	treeID, err := st.Render(ctx, key)
	if err != nil {
		return false, fmt.Errorf("rendering: %w", err)
	}
	err = st.VerifyTree(treeID)
	if err == nil {
		return false, nil
	}
	// A tree whose hash is in a format this version does not know cannot be
	// checked; rebuilding it from the verified blob is always safe.
	if !errors.Is(err, store.ErrTreeCorrupt) && !errors.Is(err, store.ErrUnknownHash) {
		return false, err
	}
	if _, err := st.RepairTree(ctx, key); err != nil {
		return false, fmt.Errorf("tree is corrupt: repairing: %w", err)
	}
	return true, nil
}
