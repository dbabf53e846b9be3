package main

import (
	"errors"
	"fmt"

	podrun "github.com/rkt/rkt/stage0/run"
	"github.com/spf13/cobra"
)

func newStopCmd(g *globalFlags) *cobra.Command {
	var (
		force    bool
		uuidFile string
	)
	cmd := &cobra.Command{
		Use:   "stop --uuid-file=FILE | UUID ...",
		Short: "Stop a pod",
		Args:  usageArgs(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			uuids, err := podUUIDs(args, uuidFile, false)
			if err != nil {
				return err
			}
			cfg, err := g.podConfig(cmd)
			if err != nil {
				return err
			}
			failed := 0
			for _, u := range uuids {
				if err := podrun.Stop(cmd.Context(), cfg, u, force); err != nil {
					failed++
					fmt.Fprintf(g.stderr, "stop: stopping pod %q: %v\n", u, err)
					continue
				}
				fmt.Fprintf(g.stdout, "%q\n", u)
			}
			if failed > 0 {
				return errNotAllStopped
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "forced stopping")
	uuidFileFlag(cmd, &uuidFile)
	return cmd
}

var errNotAllStopped = errors.New("failed to stop one or more pods")

// podConfig is stage0/run's configuration for commands on existing pods:
// no store, no fetcher.
func (g *globalFlags) podConfig(cmd *cobra.Command) (podrun.Config, error) {
	dir, err := g.dataDir(cmd)
	if err != nil {
		return podrun.Config{}, err
	}
	return podrun.Config{
		DataDir:      dir,
		LocalConfig:  g.localConfig,
		SystemConfig: g.systemConfig,
		UserConfig:   g.userConfig,
		Stage1:       stage1Build(),
		Insecure:     g.insecure,
		Debug:        g.debug,
		Log:          g.log,
		Stdout:       g.stdout,
		Stderr:       g.stderr,
	}, nil
}
