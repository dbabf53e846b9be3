package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/rkt/rkt/common/tarsafe"
	"github.com/rkt/rkt/stage0/fscopy"
	"github.com/rkt/rkt/store"
	"github.com/spf13/cobra"
)

func newImageRenderCmd(g *globalFlags) *cobra.Command {
	return newImageDirCmd(g, "render IMAGE OUTPUT_DIR", "Render an image with its dependencies applied to a directory",
		func(ctx context.Context, st *store.Store, key, tmp string) error {
			treeID, err := st.Render(ctx, key)
			if err != nil {
				return fmt.Errorf("rendering %s: %w", key, err)
			}
			tree := st.TreePath(treeID)
			for _, name := range []string{tarsafe.ManifestName, tarsafe.RootfsName} {
				if err := fscopy.Tree(filepath.Join(tree, name), filepath.Join(tmp, name)); err != nil {
					return fmt.Errorf("copying the rendered tree of %s: %w", key, err)
				}
			}
			return nil
		})
}
