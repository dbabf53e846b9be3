package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/rkt/rkt/api/v1"
	"github.com/rkt/rkt/stage0/trust"
)

// rootPrefix is what the PREFIX column shows for root keys.
const rootPrefix = "(root)"

// printTrustList prints keys as the `trust --list` table or JSON.
func printTrustList(w io.Writer, keys []v1.TrustedKey, format string, noLegend bool) error {
	if keys == nil {
		keys = []v1.TrustedKey{}
	}
	if format == formatJSON || format == formatJSONPretty {
		return printJSON(w, keys, format == formatJSONPretty)
	}
	t := newTable(w)
	if !noLegend {
		fmt.Fprintln(t, "PREFIX\tFINGERPRINT\tUSER ID\tEXPIRES\tSCOPE\tPATH")
	}
	for _, k := range keys {
		prefix := k.Prefix
		if k.Root {
			prefix = rootPrefix
		}
		expires := "never"
		if k.Expires != nil {
			expires = k.Expires.UTC().Format(time.RFC3339)
		}
		uid := strings.Join(k.UserIDs, ", ")
		if uid == "" && k.Kind == trust.KindPublicKey {
			uid = "(" + k.Kind + " public key, cosign)"
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\n", prefix, k.Fingerprint, uid, expires, k.Scope, k.Path)
	}
	return t.Flush()
}
