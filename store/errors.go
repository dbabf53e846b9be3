package store

import (
	"errors"
	"fmt"

	"github.com/rkt/rkt/store/tree"
)

var (
	// ErrNotFound: no image matches the key, prefix or name.
	ErrNotFound = errors.New("image not found in the store")
	// ErrAmbiguous: a short key matches more than one image.
	ErrAmbiguous = errors.New("image ID prefix matches more than one image")
	// ErrInvalidKey: not "sha512-" followed by hex digits.
	ErrInvalidKey = errors.New("invalid image ID (want sha512- and hex digits)")
	// ErrNoManifest: the image has no manifest entry.
	ErrNoManifest = errors.New("image has no manifest")
	// ErrNoRootfs: the image has no rootfs directory (an ACI holds exactly
	// a manifest and a rootfs/).
	ErrNoRootfs = errors.New("image has no rootfs directory (an ACI holds a manifest file and a rootfs/ directory)")
	// ErrInvalidManifest: the manifest does not validate against the appc schema.
	ErrInvalidManifest = errors.New("invalid image manifest")
	// ErrUnsupportedACVersion: the manifest's acVersion has a newer major
	// version than the appc spec this rkt implements.
	ErrUnsupportedACVersion = errors.New("unsupported image manifest version")
	// ErrMissingDependency: a dependency is not in the store.
	ErrMissingDependency = errors.New("image dependency not in the store")
	// ErrLayerInUse: a layer image was asked to be removed while images
	// depending on it are in the store.
	ErrLayerInUse = errors.New("image is a layer of other images")
	// ErrIngestDone: the ingest was already finished, committed or aborted.
	ErrIngestDone = errors.New("ingest already finished")
	// ErrTreeCorrupt: a rendered tree no longer matches its hash.
	ErrTreeCorrupt = tree.ErrTreeCorrupt
	// ErrUnknownHash: a tree's hash file is in a format this version cannot
	// check; re-rendering the tree fixes it.
	ErrUnknownHash = tree.ErrUnknownHash
)

// ErrLowSpace is matched (errors.Is) by every *FreeSpaceError.
var ErrLowSpace = errors.New("not enough free space")

// FreeSpaceError: an ingest stopped because the data dir's filesystem would
// be left with less free space than the configured floor (checked every few
// MiB, keeping a margin for the bytes written until the next check).
type FreeSpaceError struct {
	Dir   string // the store's temp directory
	Avail int64  // bytes available
	Floor int64  // bytes that must stay free
}

func (e *FreeSpaceError) Error() string {
	return fmt.Sprintf("%v on the filesystem of %s: %d bytes available, %d must stay free "+
		"(free some space, or lower the floor in a fetch.d configuration file, e.g. "+
		`{"rktKind": "fetch", "rktVersion": "v1", "minFreeSpace": "64MiB", "minFreePercent": 1}; 0 removes it: see rkt's image-fetching documentation)`,
		ErrLowSpace, e.Dir, e.Avail, e.Floor)
}

func (e *FreeSpaceError) Is(target error) bool { return target == ErrLowSpace }
