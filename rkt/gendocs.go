//go:build gendocs

package main

import (
	"fmt"
	"os"

	"github.com/rkt/rkt/stage0/version"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// buildOnlyCommands adds, in the gendocs build only, the hidden gen-docs
// command the Makefile uses to write the man pages, so that the rkt
// binary itself does not carry the man page renderer.
func buildOnlyCommands(g *globalFlags) []*cobra.Command {
	return []*cobra.Command{{
		Use:    "gen-docs man DIR",
		Short:  "Write a man page per command into DIR",
		Hidden: true,
		Args:   usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "man" {
				return usagef("gen-docs: unknown format %q (want man)", args[0])
			}
			dir := args[1]
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("writing man pages: %w", err)
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			header := &doc.GenManHeader{
				Title:   "RKT",
				Section: "1",
				Source:  "rkt " + version.Version,
				Manual:  "rkt manual",
			}
			if err := doc.GenManTree(root, header, dir); err != nil {
				return fmt.Errorf("writing man pages into %s: %w", dir, err)
			}
			return nil
		},
	}}
}
