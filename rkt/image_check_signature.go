package main

import (
	"fmt"
	"io"

	v1 "github.com/rkt/rkt/api/v1"
	"github.com/rkt/rkt/stage0/fetch"
	"github.com/rkt/rkt/stage0/insecure"
	"github.com/rkt/rkt/stage0/ocisig"
	"github.com/rkt/rkt/stage0/transport"
	"github.com/spf13/cobra"
)

func newImageCheckSignatureCmd(g *globalFlags) *cobra.Command {
	var signature, format string
	var registriesDirs []string
	cmd := &cobra.Command{
		Use:   "check-signature [--signature FILE] FILE|URL|docker://REF|oci-archive:FILE[:REF]|oci:DIR[:REF]",
		Short: "Check an image file or URL against its signature and the trusted keys, without a store",
		Long: `Verifies an image and its detached signature (--signature, or <image>.asc)
with the keys trusted in --system-config and --local-config for the name in
the image's manifest. Needs no root and no store. Exits 0 only when the
image is signed by a trusted key; the verdict is printed either way.

A docker://[registry/]repo[:tag|@digest] reference is resolved to its
manifest digest, and its simple signatures (from the lookaside that
registries.d names, see --registries-d) or cosign signatures (the
sha256-<hex>.sig tag) are checked against the keys trusted for
registry/repo. An OCI layout (oci:DIR) or its tarball (oci-archive:FILE),
such as cosign save writes, is checked the same way, with its cosign
signatures read from the layout; REF (or the image's ref name in the
layout) must be registry/repo:tag, which gives the trust name.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			conf, err := g.config()
			if err != nil {
				return err
			}
			if ocisig.IsReference(args[0]) {
				if signature != "" {
					return usagef("--signature does not apply to %s images: their signatures are looked up", args[0])
				}
				client := transport.New(transport.Options{Insecure: g.insecure, Auth: conf.AuthHeaders(), Log: g.log})
				verdict, err := ocisig.Check(cmd.Context(), g.keystore(), args[0], ocisig.CheckOptions{
					Options: ocisig.Options{
						RegistriesDirs: g.registriesDirs(registriesDirs),
						Client:         client,
						AllowHTTP:      g.insecure.Has(insecure.HTTP),
					},
					Transport: client.Transport,
				})
				if perr := printVerdict(g.stdout, verdict, format); perr != nil && err == nil {
					err = perr
				}
				return err
			}
			opts := fetch.CheckOptions{
				Keystore: g.keystore(),
				Client:   transport.New(transport.Options{Insecure: g.insecure, Auth: conf.AuthHeaders(), Log: g.log}),
				Progress: g.stderr,
				Log:      g.log,
				Limits:   fetchLimits(conf),
			}
			verdict, err := fetch.Check(cmd.Context(), opts, args[0], signature)
			if verdict != nil {
				if perr := printVerdict(g.stdout, verdict, format); perr != nil && err == nil {
					err = perr
				}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&signature, "signature", "", "detached signature file or URL (default: the image's path or URL with .asc appended)")
	cmd.Flags().StringVar(&format, "format", "", "output format: plain, json or json-pretty")
	cmd.Flags().StringArrayVar(&registriesDirs, "registries-d", nil, "registries.d directory naming signature lookasides for docker:// images (repeatable; default "+ocisig.DefaultRegistriesDir+")")
	return cmd
}

// printVerdict prints a verdict as text:
//
//	verified: <name> <short image id>
//	signer: <user id> (<fingerprint>)
//	trusted by: prefix "<prefix>"        (or: trusted by: root key)
//
// or as JSON. A refused image prints "not verified:" and what is known.
func printVerdict(w io.Writer, v *v1.SignatureVerdict, format string) error {
	if format == formatJSON || format == formatJSONPretty {
		return printJSON(w, v, format == formatJSONPretty)
	}
	status := "verified"
	if !v.Verified {
		status = "not verified"
	}
	if _, err := fmt.Fprintf(w, "%s: %s %s\n", status, v.Name, shortKey(v.ImageID)); err != nil {
		return err
	}
	switch {
	case v.Signer.UserID != "":
		fmt.Fprintf(w, "signer: %s (%s)\n", v.Signer.UserID, v.Signer.Fingerprint)
	case v.Signer.Fingerprint != "":
		// A refused signature may name a key whose user id is not known here.
		fmt.Fprintf(w, "signer: key %s\n", v.Signer.Fingerprint)
	}
	if v.SignatureFormat != "" {
		fmt.Fprintf(w, "format: %s\n", v.SignatureFormat)
	}
	if v.Verified {
		if v.Root {
			fmt.Fprintln(w, "trusted by: root key")
		} else {
			fmt.Fprintf(w, "trusted by: prefix %q\n", v.TrustedPrefix)
		}
	}
	return nil
}
