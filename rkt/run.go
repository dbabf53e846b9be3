package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/rkt/rkt/stage0/fetch"
	"github.com/rkt/rkt/stage0/podspec"
	podrun "github.com/rkt/rkt/stage0/run"
	"github.com/spf13/cobra"
)

const runUsage = `run [--volume=name,kind=host,source=/path] [--net=host|none] [pod flags...]
	IMAGE [--exec=CMD] [--name=NAME] [image flags...] [-- image-args... ---]...`

func newRunCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   runUsage,
		Short: "Run image(s) in a pod in rkt",
		Long: `IMAGE is an image name, ID, file or URL as for fetch. Image flags apply to the
image before them; "-- ARGS ---" gives an image's arguments. rkt exits with
the exit code of the first app that failed.`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			plan, err := g.parsePlan(cmd, "run", args)
			if plan == nil {
				return err
			}
			cfg, done, err := g.runConfig(cmd, plan.PullPolicy, false)
			if err != nil {
				return err
			}
			defer done()
			return planUsage(podrun.Run(cmd.Context(), cfg, plan))
		},
	}
}

// planUsage marks the errors stage0 finds in a command line only once the
// images are known (two apps of one name, a --port no app declares) as
// usage errors (exit status 254, with the pointer to --help).
func planUsage(err error) error {
	if errors.Is(err, podspec.ErrUsage) {
		var u *usageError
		if !errors.As(err, &u) {
			return &usageError{err}
		}
	}
	return err
}

// parsePlan reads a run or prepare argument vector, applies the global
// flags found in it and checks for root. A nil plan with a nil error means
// help was printed.
func (g *globalFlags) parsePlan(cmd *cobra.Command, command string, args []string) (*podspec.Plan, error) {
	plan := &podspec.Plan{Command: command}
	err := podspec.Parse(args, plan)
	switch {
	case errors.Is(err, podspec.ErrHelp):
		return nil, cmd.Help()
	case errors.Is(err, podspec.ErrUsage):
		return nil, &usageError{err}
	case err != nil:
		return nil, err
	}
	// The persistent flags were not merged, flag parsing being off: merge
	// them so that Set marks them changed where dataDir looks.
	cmd.InheritedFlags()
	for name, v := range plan.Globals {
		if err := cmd.Flags().Set(name, v); err != nil {
			return nil, usagef("invalid argument %q for --%s: %v", v, name, err)
		}
	}
	g.log = newCLILogger(g.stderr, logPrefix(cmd), g.debug)
	for _, w := range plan.Warnings {
		fmt.Fprintf(g.stderr, "%s: %s\n", command, w)
	}
	if len(plan.Apps) == 0 && plan.PodManifestFile == "" {
		return nil, usagef("at least one image is required")
	}
	if err := ensureSuperuser(); err != nil {
		return nil, err
	}
	return plan, nil
}

// runConfig builds stage0/run's configuration: the store, a fetcher with
// the pull policy, and the build's stage1 defaults. done closes the store.
func (g *globalFlags) runConfig(cmd *cobra.Command, pullPolicy string, quiet bool) (podrun.Config, func(), error) {
	cfg, err := g.podConfig(cmd)
	if err != nil {
		return podrun.Config{}, nil, err
	}
	if pullPolicy == "" {
		pullPolicy = fetch.PullNew.String()
	}
	policy, err := parsePullPolicy(pullPolicy)
	if err != nil {
		return podrun.Config{}, nil, err
	}
	f, st, err := g.newFetcher(cmd, policy)
	if err != nil {
		return podrun.Config{}, nil, err
	}
	if quiet {
		f.Progress = io.Discard
	}
	cfg.Store, cfg.Fetcher = st, f
	return cfg, func() { st.Close() }, nil
}
