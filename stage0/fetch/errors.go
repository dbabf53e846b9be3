package fetch

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

var (
	// ErrNoSignature: the image has no signature and signature checks are on.
	ErrNoSignature = errors.New("no signature found")
	// ErrNotInStore: the image is not in the store and the pull policy, or
	// the kind of reference (an image ID), forbids going to the network.
	ErrNotInStore = errors.New("image not in the store")
	// ErrDependencyCycle: an image depends, directly or not, on itself.
	ErrDependencyCycle = errors.New("dependency cycle")
	// ErrUnsupportedRef: a reference this fetcher cannot handle (docker://,
	// other schemes).
	ErrUnsupportedRef = errors.New("unsupported image reference")
	// ErrNoManifest: the image has no manifest (or none where the
	// signature check looks for it, near the start of the tar).
	ErrNoManifest = errors.New("no manifest in the image")
	// ErrTooLarge: a signature or key larger than any real one.
	ErrTooLarge = errors.New("too large")
)

// MismatchError reports an image whose manifest does not carry the name or
// labels it was fetched by.
type MismatchError struct {
	Want       string            // the name asked for
	WantLabels map[string]string // the labels asked for
	Got        string            // the manifest's name
	GotLabels  map[string]string // the manifest's labels
}

func (e *MismatchError) Error() string {
	if e.Want != e.Got {
		return fmt.Sprintf("image manifest names %q, but %q was asked for", e.Got, e.Want)
	}
	var diffs []string
	for _, k := range slices.Sorted(maps.Keys(e.WantLabels)) {
		if got, ok := e.GotLabels[k]; ok && got != e.WantLabels[k] || !ok {
			g := "absent"
			if ok {
				g = fmt.Sprintf("%q", got)
			}
			diffs = append(diffs, fmt.Sprintf("%s=%q asked, %s in the manifest", k, e.WantLabels[k], g))
		}
	}
	return fmt.Sprintf("image %q: labels do not match: %s", e.Got, strings.Join(diffs, ", "))
}
