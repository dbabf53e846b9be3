package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	v1 "github.com/rkt/rkt/api/v1"
	"github.com/rkt/rkt/stage0/discovery"
	"github.com/rkt/rkt/stage0/insecure"
	"github.com/rkt/rkt/stage0/transport"
	"github.com/rkt/rkt/stage0/trust"
	"github.com/spf13/cobra"
)

type trustOptions struct {
	prefix                string
	root                  bool
	skipFingerprintReview bool
	insecureAllowHTTP     bool
	list                  bool
	remove                bool
	format                string
	noLegend              bool
}

func newTrustCmd(g *globalFlags) *cobra.Command {
	var o trustOptions
	cmd := &cobra.Command{
		Use:   "trust [--prefix=PREFIX | --root] [PUBKEY...]",
		Short: "Trust a key for image verification",
		Long: `Adds keys to the local keystore for use in verifying signed images.
PUBKEY may be a local file or an https URL. Without PUBKEY, the keys of
--prefix are discovered through appc meta discovery (ac-discovery-pubkeys).

With --list, prints the trusted keys; with --remove FINGERPRINT, removes a
key (a system key is masked by an empty file in the local configuration).`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.root && o.prefix != "" {
				return usagef("--root and --prefix are mutually exclusive")
			}
			if o.list && o.remove {
				return usagef("--list and --remove are mutually exclusive")
			}
			if o.prefix != "" {
				p, err := trust.NormalizePrefix(o.prefix)
				if err != nil {
					return &usageError{err}
				}
				o.prefix = p
			}
			ks := trust.New(g.systemConfig, g.localConfig)
			switch {
			case o.list:
				if len(args) > 0 {
					return usagef("--list takes no arguments")
				}
				if err := checkFormat(o.format); err != nil {
					return err
				}
				return runTrustList(g, ks, o)
			case o.remove:
				if len(args) != 1 {
					return usagef("--remove takes exactly one fingerprint")
				}
				return runTrustRemove(g, ks, o, args[0])
			}
			if o.prefix == "" && !o.root {
				if len(args) > 0 {
					return usagef("--root is required for keys without a prefix")
				}
				return usagef("--prefix or --root is required")
			}
			if o.root && len(args) == 0 {
				return usagef("--root needs a key file or URL (keys are never discovered for root)")
			}
			return runTrustAdd(cmd.Context(), g, ks, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.prefix, "prefix", "", "prefix to limit trust to")
	f.BoolVar(&o.root, "root", false, "add a root key from a file or URL, trusted for every image")
	f.BoolVar(&o.skipFingerprintReview, "skip-fingerprint-review", false, "accept the keys without asking to review their fingerprints")
	f.BoolVar(&o.insecureAllowHTTP, "insecure-allow-http", false, "allow keys and key discovery over plain http")
	f.BoolVar(&o.list, "list", false, "list the trusted keys")
	f.BoolVar(&o.remove, "remove", false, "remove the key with the given fingerprint")
	f.StringVar(&o.format, "format", "", "output format of --list: plain, json or json-pretty")
	f.BoolVar(&o.noLegend, "no-legend", false, "suppress the legend of --list")
	return cmd
}

// runTrustList prints every good key in scope. Bad key files in scope are
// named on stderr, one a line with the reason and the fix, and make the
// command fail after the listing, so that a script gets every usable key
// and CI still notices the bad file.
func runTrustList(g *globalFlags, ks *trust.Keystore, o trustOptions) error {
	infos, bad, err := listKeys(ks)
	if err != nil {
		return err
	}
	keys := make([]v1.TrustedKey, 0, len(infos))
	for _, k := range infos {
		if !inScope(o, k.Prefix) {
			continue
		}
		keys = append(keys, trustedKeyEntry(k))
		if k.Weak != nil {
			fmt.Fprintf(g.stderr, "trust: warning: key %s at %s verifies nothing: %v; remove it with rkt trust %s --remove %s\n",
				k.Fingerprint, k.Path, k.Weak, scopeFlag(k.Prefix), k.Fingerprint)
		}
	}
	if err := printTrustList(g.stdout, keys, o.format, o.noLegend); err != nil {
		return err
	}
	n := 0
	for _, kf := range bad {
		if inScope(o, kf.Prefix) {
			fmt.Fprintf(g.stderr, "trust: bad key file: %v\n", kf)
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("listing keys: %d bad key file(s), named above, were not listed", n)
	}
	return nil
}

// listKeys lists the keys, and the bad key files apart.
func listKeys(ks *trust.Keystore) ([]trust.KeyInfo, []*trust.KeyFileError, error) {
	infos, err := ks.List()
	var bad *trust.BadKeyFilesError
	if errors.As(err, &bad) {
		return infos, bad.Files, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listing keys: %w", err)
	}
	return infos, nil, nil
}

// inScope reports whether a key trusted for prefix is one --prefix or
// --root asks about.
func inScope(o trustOptions, prefix string) bool {
	return !(o.prefix != "" && prefix != o.prefix) && !(o.root && prefix != "")
}

func trustedKeyEntry(k trust.KeyInfo) v1.TrustedKey {
	uids := k.UserIDs
	if uids == nil {
		uids = []string{}
	}
	return v1.TrustedKey{
		Prefix:      k.Prefix,
		Root:        k.Prefix == "",
		Fingerprint: k.Fingerprint,
		UserIDs:     uids,
		Created:     k.Created,
		Expires:     k.Expires,
		Scope:       k.Scope,
		Path:        k.Path,
		Kind:        k.Kind,
	}
}

func runTrustRemove(g *globalFlags, ks *trust.Keystore, o trustOptions, fingerprint string) error {
	fp, err := trust.NormalizeFingerprint(fingerprint)
	if err != nil {
		return fmt.Errorf("removing key: %w", err)
	}
	// A bad key file named like a fingerprint is removed by that name: it
	// is the fix its error suggests.
	infos, bad, err := listKeys(ks)
	if err != nil {
		return err
	}
	type target struct{ prefix, scope string }
	var targets []target
	for _, k := range infos {
		if k.Fingerprint == fp && inScope(o, k.Prefix) {
			targets = append(targets, target{k.Prefix, k.Scope})
		}
	}
	for _, kf := range bad {
		if kf.Name == fp && inScope(o, kf.Prefix) {
			targets = append(targets, target{kf.Prefix, kf.Scope})
		}
	}
	if len(targets) == 0 {
		where := "any prefix"
		switch {
		case o.root:
			where = "root"
		case o.prefix != "":
			where = fmt.Sprintf("prefix %q", o.prefix)
		}
		return fmt.Errorf("removing key %s: no key with this fingerprint is trusted for %s (see rkt trust --list)", fp, where)
	}
	for _, k := range targets {
		path, err := ks.Remove(k.prefix, fp)
		if err != nil {
			return fmt.Errorf("removing key %s for %s: %w", fp, describePrefix(k.prefix), err)
		}
		if k.scope == v1.ScopeSystem {
			fmt.Fprintf(g.stderr, "Masked system key %s for %s with %q\n", fp, describePrefix(k.prefix), path)
		} else {
			fmt.Fprintf(g.stderr, "Removed key %s for %s from %q\n", fp, describePrefix(k.prefix), path)
		}
	}
	return nil
}

// scopeFlag is the flag that selects prefix in rkt trust.
func scopeFlag(prefix string) string {
	if prefix == "" {
		return "--root"
	}
	return "--prefix " + prefix
}

func describePrefix(prefix string) string {
	if prefix == "" {
		return "root"
	}
	return fmt.Sprintf("prefix %q", prefix)
}

// runTrustAdd reads, reviews and stores each key.
func runTrustAdd(ctx context.Context, g *globalFlags, ks *trust.Keystore, o trustOptions, sources []string) error {
	set := g.insecure
	if o.insecureAllowHTTP {
		set |= insecure.HTTP
	} else {
		// Only the trust-specific flag allows http here, as in rkt.
		set &^= insecure.HTTP
	}
	conf, err := g.config()
	if err != nil {
		return err
	}
	client := transport.New(transport.Options{Insecure: set, Auth: conf.AuthHeaders(), Log: g.log})

	if len(sources) == 0 {
		sources, err = discovery.DiscoverPublicKeys(ctx, discovery.Options{Client: client, Insecure: set}, o.prefix)
		if err != nil {
			return fmt.Errorf("determining key location: %w", err)
		}
	}
	prefix := o.prefix
	if o.root {
		prefix = ""
	}
	for _, src := range sources {
		if err := addKey(ctx, g, ks, client, prefix, src, o); err != nil {
			return fmt.Errorf("adding key %q: %w", src, err)
		}
	}
	return nil
}

func addKey(ctx context.Context, g *globalFlags, ks *trust.Keystore, client *http.Client, prefix, src string, o trustOptions) error {
	if strings.HasPrefix(src, "http://") && !o.insecureAllowHTTP {
		return errKeyOverHTTP
	}
	skipReview := o.skipFingerprintReview
	data, err := trust.ReadKeySource(ctx, client, src)
	if err != nil {
		return err
	}
	k, err := trust.ParseKey(data)
	if err != nil {
		return err
	}
	if skipReview {
		if prefix == "" {
			fmt.Fprintf(g.stderr, "Trusting %q as a root key without fingerprint review.\n", src)
		} else {
			fmt.Fprintf(g.stderr, "Trusting %q for prefix %q without fingerprint review.\n", src, prefix)
		}
	} else {
		ok, err := reviewKey(g, prefix, src, k)
		if err != nil {
			return fmt.Errorf("reviewing key: %w", err)
		}
		if !ok {
			fmt.Fprintf(g.stderr, "Not trusting %q.\n", src)
			return nil
		}
	}
	path, already, err := ks.Add(prefix, k)
	if err != nil {
		return err
	}
	switch {
	case already && prefix == "":
		fmt.Fprintf(g.stderr, "Root key is already trusted at %q\n", path)
	case already:
		fmt.Fprintf(g.stderr, "Key for prefix %q is already trusted at %q\n", prefix, path)
	case prefix == "":
		fmt.Fprintf(g.stderr, "Added root key at %q\n", path)
	default:
		fmt.Fprintf(g.stderr, "Added key for prefix %q at %q\n", prefix, path)
	}
	return nil
}

var (
	errKeyOverHTTP = errors.New("refusing to download a key over plain http; rerun with --insecure-allow-http to allow it")
	errNoTTY       = errors.New("unable to ask for a fingerprint review without a terminal; check the fingerprint, then rerun with --skip-fingerprint-review")
)

// reviewKey shows the key's fingerprint and asks on stderr whether to trust
// it; the answer is read from stdin, which must be a terminal.
func reviewKey(g *globalFlags, prefix, src string, k *trust.Key) (bool, error) {
	if !g.stdinIsTTY() {
		return false, errNoTTY
	}
	shown := prefix
	if prefix == "" {
		shown = rootPrefix
	}
	fmt.Fprintf(g.stderr, "pubkey: prefix: %q\nkey: %q\n%s", shown, src, trust.FingerprintReview(k))
	fmt.Fprint(g.stderr, "Are you sure you want to trust this key (yes/no)?\n")
	answer, err := bufio.NewReader(g.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("reading the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}
