package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rkt/rkt/stage0/fetch"
	"github.com/rkt/rkt/stage0/podspec"
	podrun "github.com/rkt/rkt/stage0/run"
	"github.com/rkt/rkt/stage0/runargs"
	"github.com/spf13/cobra"
)

const runUsage = `run [--volume=name,kind=host,source=/path] [--net=host|none] [pod flags...]
	IMAGE [--exec=CMD] [--name=NAME] [image flags...] [-- image-args... ---]...`

func newRunCmd(g *globalFlags) *cobra.Command {
	return g.newPlanCmd(&cobra.Command{
		Use:   runUsage,
		Short: "Run image(s) in a pod in rkt",
		Long: `IMAGE is an image name, ID, file or URL as for fetch. Image flags apply to the
image before them; "-- ARGS ---" gives an image's arguments. rkt exits with
the exit code of the first app that failed.`,
	}, func(cmd *cobra.Command, plan *podspec.Plan) error {
		cfg, done, err := g.runConfig(cmd, plan.PullPolicy, false)
		if err != nil {
			return err
		}
		defer done()
		return planUsage(podrun.Run(cmd.Context(), cfg, plan))
	})
}

// newPlanCmd completes cmd, named run or prepare, with the flags of its
// command line (stage0/runargs' grammar, stage0/podspec's values): cobra
// reads the flags before the first image, the command line's own reader
// the images and the flags after each. run gets the checked plan.
func (g *globalFlags) newPlanCmd(cmd *cobra.Command, run func(*cobra.Command, *podspec.Plan) error) *cobra.Command {
	plan := &podspec.Plan{Command: cmd.Name()}
	cl, err := podspec.NewCommandLine(plan)
	if err != nil {
		panic(err) // cmd.Use names run or prepare
	}
	cl.Register(cmd.Flags())
	cmd.Flags().SetInterspersed(false)
	cmd.Args = cobra.ArbitraryArgs
	cmd.Long += "\n\n" + imageFlagsHelp()
	cmd.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		// Help asked for before the error (--help --frob, or -help,
		// read as -h -e -l -p) is shown, as rkt's reader did.
		if f := cmd.Flags().Lookup("help"); f != nil && f.Changed && f.Value.String() == "true" {
			return cmd.Help()
		}
		return planUsage(runargs.FlagError(err))
	})
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		err := cl.ParseImages(cmd.Flags(), args, cmd.ArgsLenAtDash() == 0)
		if errors.Is(err, podspec.ErrHelp) {
			return cmd.Help()
		}
		if err != nil {
			return planUsage(err)
		}
		plan.Runtime.Debug = g.debug
		if err := g.checkPlan(cmd, plan); err != nil {
			return err
		}
		return run(cmd, plan)
	}
	return cmd
}

// imageFlagsHelp says which of the flags listed belong to an image, in
// lines of at most 80 columns.
func imageFlagsHelp() string {
	words := strings.Fields("Image flags, given after an image, apply to it: " +
		strings.Join(podspec.ImageFlags(), ", ") + ". A --mount given before the first image " +
		"applies to every app. Pod flags may be given before or after any image.")
	var b strings.Builder
	line := 0
	for _, w := range words {
		switch {
		case line == 0:
		case line+1+len(w) > 80:
			b.WriteByte('\n')
			line = 0
		default:
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String()
}

// planUsage marks the errors stage0 finds in a command line (while reading
// it, or only once the images are known: two apps of one name, a --port no
// app declares) as usage errors (exit status 254, with the pointer to
// --help). Others, such as a --set-env-file that cannot be read, stay as
// they are.
func planUsage(err error) error {
	if errors.Is(err, podspec.ErrUsage) {
		var u *usageError
		if !errors.As(err, &u) {
			return &usageError{err}
		}
	}
	return err
}

// checkPlan finishes a run or prepare command line: the logger with the
// global flags given after an image, the plan's warnings, the root check.
func (g *globalFlags) checkPlan(cmd *cobra.Command, plan *podspec.Plan) error {
	g.log = newCLILogger(g.stderr, logPrefix(cmd), g.debug)
	for _, w := range plan.Warnings {
		fmt.Fprintf(g.stderr, "%s: %s\n", plan.Command, w)
	}
	if len(plan.Apps) == 0 && plan.PodManifestFile == "" {
		return usagef("at least one image is required")
	}
	return ensureSuperuser()
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
