package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/stage0/config"
	"github.com/rkt/rkt/stage0/fetch"
	"github.com/rkt/rkt/stage0/insecure"
	"github.com/rkt/rkt/stage0/ocisig"
	podrun "github.com/rkt/rkt/stage0/run"
	"github.com/rkt/rkt/stage0/transport"
	"github.com/rkt/rkt/store"
	"github.com/spf13/cobra"
)

func newFetchCmd(g *globalFlags) *cobra.Command {
	var (
		signatures         []string
		full               bool
		pullPolicy         string
		noStore, storeOnly bool
	)
	cmd := &cobra.Command{
		Use:   "fetch IMAGE...",
		Short: "Fetch images into the local store, verifying their signatures",
		Long: `IMAGE is a file path (signature in <file>.asc or --signature), an http(s)
URL (signature at <url>.asc), an image name such as example.com/app:1.0
found through appc meta discovery, or the ID of an image already in the store.
One image ID per image is printed on stdout.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(signatures) > len(args) {
				return usagef("%d --signature flags for %d images", len(signatures), len(args))
			}
			if noStore && storeOnly {
				return usagef("--no-store and --store-only are mutually exclusive")
			}
			policy, err := parsePullPolicy(pullPolicy)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("pull-policy") && (noStore || storeOnly) {
				return usagef("--pull-policy cannot be combined with the deprecated --no-store or --store-only")
			}
			switch {
			case noStore:
				fmt.Fprintln(g.stderr, "fetch: --no-store is deprecated, use --pull-policy=update")
				policy = fetch.PullUpdate
			case storeOnly:
				fmt.Fprintln(g.stderr, "fetch: --store-only is deprecated, use --pull-policy=never")
				policy = fetch.PullNever
			}
			f, st, err := g.newFetcher(cmd, policy)
			if err != nil {
				return err
			}
			defer st.Close()
			unlock, err := g.holdOffImageGC(cmd)
			if err != nil {
				return err
			}
			defer unlock()
			for i, ref := range args {
				sig := ""
				if i < len(signatures) {
					sig = signatures[i]
				}
				key, err := f.Fetch(cmd.Context(), ref, sig)
				if err != nil {
					return err
				}
				if !full {
					key = shortKey(key)
				}
				fmt.Fprintln(g.stdout, key)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&signatures, "signature", nil, "local signature file of the image in the same position (repeat once per image)")
	fl.BoolVar(&full, "full", false, "print the full image hash")
	fl.StringVar(&pullPolicy, "pull-policy", fetch.PullUpdate.String(), "when to go to the network: new (only if missing), update (check the remote), never (store only)")
	fl.BoolVar(&noStore, "no-store", false, "deprecated: same as --pull-policy=update")
	fl.BoolVar(&storeOnly, "store-only", false, "deprecated: same as --pull-policy=never")
	return cmd
}

func parsePullPolicy(s string) (fetch.PullPolicy, error) {
	p, err := fetch.ParsePullPolicy(s)
	if err != nil {
		return 0, &usageError{fmt.Errorf("invalid --pull-policy: %w", err)}
	}
	return p, nil
}

// shortKey is an image ID as fetch prints it without --full: sha512- and
// 32 hex digits.
func shortKey(key string) string {
	const n = len("sha512-") + 32
	if len(key) > n {
		return key[:n]
	}
	return key
}

// newFetcher opens the store and builds the fetcher the global flags ask
// for, into that store; the caller closes the store.
func (g *globalFlags) newFetcher(cmd *cobra.Command, policy fetch.PullPolicy) (*fetch.Fetcher, *store.Store, error) {
	conf, err := g.config()
	if err != nil {
		return nil, nil, err
	}
	st, err := g.openStore(cmd)
	if err != nil {
		return nil, nil, err
	}
	ks := g.keystore()
	f := &fetch.Fetcher{
		Store:              st,
		Keystore:           ks,
		Client:             transport.New(transport.Options{Insecure: g.insecure, Auth: conf.AuthHeaders(), Log: g.log}),
		Insecure:           g.insecure,
		PullPolicy:         policy,
		TrustKeysFromHTTPS: g.trustKeysFromHTTPS,
		Progress:           g.stderr,
		Log:                g.log,
		DockerAuth:         dockerCredentials(conf.DockerAuth),
	}
	f.OCIVerifier = fetch.OCISignatures(ks, ocisig.Options{
		RegistriesDirs: g.registriesDirs(nil),
		Client:         f.Client,
		AllowHTTP:      g.insecure.Has(insecure.HTTP),
	})
	return f, st, nil
}

// registriesDirs are the registries.d directories that name signature
// lookasides for registry images: those given (check-signature's
// --registries-d), else containers' own (/etc/containers/registries.d)
// and rkt's registries.d in the system and local configuration dirs. A
// namespace set in two files is an error, as containers/image has it.
func (g *globalFlags) registriesDirs(given []string) []string {
	if len(given) > 0 {
		return given
	}
	return []string{ocisig.DefaultRegistriesDir, filepath.Join(g.systemConfig, "registries.d"), filepath.Join(g.localConfig, "registries.d")}
}

// dockerCredentials passes auth.d's dockerAuth entries to the fetcher.
func dockerCredentials(m map[string]config.DockerAuth) map[string]fetch.DockerCredential {
	out := make(map[string]fetch.DockerCredential, len(m))
	for reg, a := range m {
		out[reg] = fetch.DockerCredential{User: a.User, Password: a.Password}
	}
	return out
}

// imageFetchCmd is `rkt image fetch`, a hidden alias of `rkt fetch`.
func newImageFetchCmd(g *globalFlags) *cobra.Command {
	cmd := newFetchCmd(g)
	cmd.Hidden = true
	return cmd
}

// holdOffImageGC takes the prepare lock shared, as run and prepare do:
// image gc takes it exclusively, so it cannot remove an image this fetch
// committed before the fetch has rendered it. A member of group rkt who
// may not create the lock fetches without it (image gc needs root).
func (g *globalFlags) holdOffImageGC(cmd *cobra.Command) (unlock func(), err error) {
	dir, err := g.dataDir(cmd)
	if err != nil {
		return nil, err
	}
	l, err := podrun.LockPrepare(dir, flock.Shared)
	if errors.Is(err, fs.ErrPermission) && os.Geteuid() != 0 {
		g.log.Debug("fetching without the prepare lock", "err", err)
		return func() {}, nil
	}
	if err != nil {
		return nil, err
	}
	return func() { l.Close() }, nil
}
