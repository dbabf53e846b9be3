package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/rkt/rkt/stage0/config"
	"github.com/rkt/rkt/stage0/insecure"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Defaults of the global flags (rkt v1.30).
const (
	defaultDataDir      = "/var/lib/rkt"
	defaultLocalConfig  = "/etc/rkt"
	defaultSystemConfig = "/usr/lib/rkt"
)

// globalFlags holds the persistent flags and the process's standard streams,
// so that commands can run in-process in tests.
type globalFlags struct {
	dir                string
	localConfig        string
	systemConfig       string
	userConfig         string
	insecure           insecure.Set
	trustKeysFromHTTPS bool
	debug              bool

	stdin          io.Reader
	stdout, stderr io.Writer
	// stdinTTY overrides terminal detection of stdin when set (tests).
	stdinTTY *bool

	log  *slog.Logger
	conf *config.Config
}

// insecureValue parses --insecure-options while flags are parsed, so that a
// bad value is a flag (usage) error.
type insecureValue struct{ set *insecure.Set }

func (v insecureValue) String() string {
	if v.set == nil {
		return insecure.None.String()
	}
	return v.set.String()
}

func (v insecureValue) Set(s string) error {
	set, err := insecure.Parse(s)
	if err != nil {
		return err
	}
	*v.set = set
	return nil
}

func (v insecureValue) Type() string { return "string" }

func newRootCmd(g *globalFlags) *cobra.Command {
	root := &cobra.Command{
		Use:           "rkt",
		Short:         "rkt, the application container runner",
		Args:          cobra.ArbitraryArgs,
		RunE:          helpOrUnknown,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			g.log = newCLILogger(g.stderr, logPrefix(cmd), g.debug)
			return nil
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetIn(g.stdin)
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })

	pf := root.PersistentFlags()
	pf.StringVar(&g.dir, "dir", defaultDataDir, "rkt data directory")
	pf.StringVar(&g.localConfig, "local-config", defaultLocalConfig, "local configuration directory")
	pf.StringVar(&g.systemConfig, "system-config", defaultSystemConfig, "system configuration directory")
	pf.StringVar(&g.userConfig, "user-config", "", "user configuration directory")
	pf.Var(insecureValue{&g.insecure}, "insecure-options",
		"comma-separated list of security features to disable: none, image, tls, ondisk, http, pubkey, capabilities, paths, seccomp, all-fetch, all-run, all")
	pf.BoolVar(&g.trustKeysFromHTTPS, "trust-keys-from-https", false, "automatically trust gpg keys fetched from https")
	pf.BoolVar(&g.debug, "debug", false, "print out more debug information to stderr")

	root.AddCommand(
		newVersionCmd(g),
		newCompletionCmd(g),
		newConfigCmd(g),
		newImageCmd(g),
		newTrustCmd(g),
		newFetchCmd(g),
		newListCmd(g),
		newStatusCmd(g),
		newCatManifestCmd(g),
		newMetadataServiceCmd(g),
		newAPIServiceCmd(g),
		newRmCmd(g),
		newGCCmd(g),
		newRunCmd(g),
		newPrepareCmd(g),
		newRunPreparedCmd(g),
		newStopCmd(g),
		newEnterCmd(g),
		newExportCmd(g),
	)
	root.AddCommand(buildOnlyCommands(g)...)
	return root
}

// logPrefix names the source of diagnostics as rkt did: "image" for
// everything that fetches or checks images, else the command.
func logPrefix(cmd *cobra.Command) string {
	name := commandName(cmd)
	if name == "fetch" || strings.HasPrefix(name, "image") {
		return "image"
	}
	return name
}

// helpOrUnknown is the RunE of commands that only group subcommands.
// Without arguments it shows the help: for `rkt` itself that is an error,
// errMissingCommand (exit 2, as in rkt 1.30); for a group such as `rkt
// image`, it is not.
func helpOrUnknown(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unknown command %q", args[0])
	}
	if err := cmd.Help(); err != nil {
		return err
	}
	if !cmd.HasParent() {
		return errMissingCommand
	}
	return nil
}

// config loads and merges the system, local and user configuration, once.
func (g *globalFlags) config() (*config.Config, error) {
	if g.conf != nil {
		return g.conf, nil
	}
	c, err := config.Load(g.systemConfig, g.localConfig, g.userConfig)
	if err != nil {
		return nil, fmt.Errorf("loading configuration: %w", err)
	}
	g.conf = c
	return c, nil
}

// dataDir is --dir when given, else the configured paths.d "data", else the
// default.
func (g *globalFlags) dataDir(cmd *cobra.Command) (string, error) {
	if f := cmd.Flags().Lookup("dir"); f != nil && f.Changed {
		return g.dir, nil
	}
	c, err := g.config()
	if err != nil {
		return "", err
	}
	if c.Paths.DataDir != "" {
		return c.Paths.DataDir, nil
	}
	return g.dir, nil
}

// isTerminal reports whether w (or r) is a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}

// stdinIsTTY reports whether the user can be asked a question on stdin.
func (g *globalFlags) stdinIsTTY() bool {
	if g.stdinTTY != nil {
		return *g.stdinTTY
	}
	return isTerminal(g.stdin)
}
