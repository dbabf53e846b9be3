package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rkt/rkt/common/tarsafe"
	"github.com/rkt/rkt/stage0/rmguard"
	"github.com/rkt/rkt/store"
	"github.com/spf13/cobra"
)

func newImageExtractCmd(g *globalFlags) *cobra.Command {
	return newImageDirCmd(g, "extract IMAGE OUTPUT_DIR", "Extract an image (without its dependencies) to a directory",
		func(_ context.Context, st *store.Store, key, tmp string) error {
			blob, err := st.OpenBlob(key)
			if err != nil {
				return err
			}
			defer blob.Close()
			if _, err := tarsafe.Extract(blob, tmp, tarsafe.Options{}); err != nil {
				return fmt.Errorf("extracting %s: %w", key, err)
			}
			return nil
		})
}

// newImageDirCmd is `image extract` and `image render`: fill writes the
// image's tree (manifest and rootfs/) into a temp directory, which then
// replaces OUTPUT_DIR (or, with --rootfs-only, its rootfs does).
func newImageDirCmd(g *globalFlags, use, short string, fill func(ctx context.Context, st *store.Store, key, tmp string) error) *cobra.Command {
	var rootfsOnly, overwrite bool
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			dst := args[1]
			protected := g.protectedDirs(cmd)
			if overwrite {
				if err := rmguard.Check(dst, protected); err != nil {
					return err
				}
			}
			return g.withImage(cmd, args[0], dst, overwrite, func(st *store.Store, key string) error {
				return placeDir(dst, rootfsOnly, overwrite, protected, func(tmp string) error {
					return fill(cmd.Context(), st, key, tmp)
				})
			})
		},
	}
	cmd.Flags().BoolVar(&rootfsOnly, "rootfs-only", false, "write only the rootfs, not the manifest")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "replace the output directory if it exists")
	return cmd
}

// placeDir has fill write an image tree (manifest and rootfs/) into a temp
// directory beside dst, then moves it (or, with rootfsOnly, its rootfs) to
// dst, replacing dst only with overwrite, and then only when rmguard allows
// removing it (no mount point in it, not a system or rkt directory).
func placeDir(dst string, rootfsOnly, overwrite bool, protected []string, fill func(tmp string) error) error {
	dst = filepath.Clean(dst)
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".tmp-"+filepath.Base(dst)+"-*")
	if err != nil {
		return fmt.Errorf("creating temp directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := fill(tmp); err != nil {
		return err
	}
	src := tmp
	if rootfsOnly {
		src = filepath.Join(tmp, tarsafe.RootfsName)
	}
	if overwrite {
		if err := rmguard.Check(dst, protected); err != nil {
			return err
		}
		// RemoveAll refuses, too, a mount made since the check.
		if err := rmguard.RemoveAll(dst); err != nil {
			return err
		}
	} else if err := checkAbsent(dst); err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("moving the tree to %s: %w", dst, err)
	}
	return nil
}

// protectedDirs are the directories rkt keeps its state in: the data
// directory and the configuration directories.
// The data directory is both the flag's and the configured one.
func (g *globalFlags) protectedDirs(cmd *cobra.Command) []string {
	dirs := []string{g.dir, g.systemConfig, g.localConfig, g.userConfig}
	if dir, err := g.dataDir(cmd); err == nil {
		dirs = append(dirs, dir)
	}
	return dirs
}
