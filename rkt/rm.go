package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/rkt/rkt/stage0/pod"
	podrun "github.com/rkt/rkt/stage0/run"
	"github.com/spf13/cobra"
)

func newRmCmd(g *globalFlags) *cobra.Command {
	var uuidFile string
	cmd := &cobra.Command{
		Use:   "rm --uuid-file=FILE | UUID ...",
		Short: "Remove all files and resources associated with an exited pod",
		Args:  usageArgs(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := ensureSuperuser(); err != nil {
				return err
			}
			uuids, err := podUUIDs(args, uuidFile, false)
			if err != nil {
				return err
			}
			dir, err := g.dataDir(cmd)
			if err != nil {
				return err
			}
			opts, err := g.podGCOptions(cmd)
			if err != nil {
				return err
			}
			failed := 0
			for _, u := range uuids {
				p, err := pod.Get(dir, u)
				if err == nil {
					err = p.Remove(cmd.Context(), opts)
				}
				if err != nil {
					failed++
					fmt.Fprintf(g.stderr, "rm: removing pod %q: %v\n", u, err)
					continue
				}
				fmt.Fprintf(g.stdout, "%q\n", p.UUID)
			}
			if failed > 0 {
				return errNotAllRemoved
			}
			return nil
		},
	}
	uuidFileFlag(cmd, &uuidFile)
	return cmd
}

var errNotAllRemoved = errors.New("failed to remove one or more pods")

// podGCOptions are the removal settings shared by gc and rm.
// The pod's stage1 gc entrypoint runs before a pod that ran is removed.
func (g *globalFlags) podGCOptions(cmd *cobra.Command) (pod.GCOptions, error) {
	cfg, err := g.podConfig(cmd)
	if err != nil {
		return pod.GCOptions{}, err
	}
	opts := pod.GCOptions{Stage1GC: podrun.Stage1GC(cmd.Context(), cfg), Log: g.log}
	if !g.debug {
		// gc and rm print what they did themselves; warnings still show.
		opts.Log = slog.New(minLevel{slog.LevelWarn, g.log.Handler()})
	}
	return opts, nil
}
