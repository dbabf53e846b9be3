package store

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/appc/spec/schema"
)

// checkManifest refuses what appc's schema validation lets through and rkt
// cannot honour: a manifest that is not UTF-8 (JSON must be; Go's decoder
// would silently turn the bad bytes into U+FFFD, so an app would get other
// environment values than its image says), an environment value with a NUL
// (execve cannot pass it), and an acVersion of a newer major version than
// the appc spec this rkt implements (its meaning is unknown).
func checkManifest(raw []byte, im *schema.ImageManifest) error {
	if !utf8.Valid(raw) {
		return fmt.Errorf("%w: the manifest is not valid UTF-8", ErrInvalidManifest)
	}
	if im.ACVersion.Major > schema.AppContainerVersion.Major {
		return fmt.Errorf("%w: acVersion %s is newer than the appc spec %s this rkt implements", ErrUnsupportedACVersion, im.ACVersion, schema.AppContainerVersion)
	}
	if im.App != nil {
		for _, ev := range im.App.Environment {
			if strings.ContainsRune(ev.Value, 0) {
				return fmt.Errorf("%w: environment variable %s holds a NUL byte", ErrInvalidManifest, ev.Name)
			}
		}
	}
	return nil
}
