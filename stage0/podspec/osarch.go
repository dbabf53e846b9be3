package podspec

import (
	"errors"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
)

// ValidOSArch is the os and arch label pairs an app image may carry, as
// rkt 1.30 accepted them (its stage0 list: Linux only).
var ValidOSArch = map[string][]string{
	"linux": {"amd64", "i386", "aarch64", "aarch64_be", "armv6l", "armv7l", "armv7b", "ppc64le"},
}

var (
	// ErrNoOSLabel: an app image without an os label (rkt 1.30's wording).
	ErrNoOSLabel = errors.New("missing os label in the image manifest")
	// ErrNoArchLabel: an app image without an arch label.
	ErrNoArchLabel = errors.New("missing arch label in the image manifest")
)

// CheckOSArch refuses an app image whose manifest lacks the os or arch
// label, or names a pair outside ValidOSArch, as rkt 1.30 refused to run
// one. Stage1 images are not app images and are not checked.
func CheckOSArch(im *schema.ImageManifest) error {
	if _, ok := im.Labels.Get("os"); !ok {
		return ErrNoOSLabel
	}
	if _, ok := im.Labels.Get("arch"); !ok {
		return ErrNoArchLabel
	}
	return types.IsValidOSArch(im.Labels.ToMap(), ValidOSArch)
}
