package store

import (
	"errors"

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
	// ErrMissingDependency: a dependency is not in the store.
	ErrMissingDependency = errors.New("image dependency not in the store")
	// ErrIngestDone: the ingest was already finished, committed or aborted.
	ErrIngestDone = errors.New("ingest already finished")
	// ErrTreeCorrupt: a rendered tree no longer matches its hash.
	ErrTreeCorrupt = tree.ErrTreeCorrupt
	// ErrUnknownHash: a tree's hash file is in a format this version cannot
	// check; re-rendering the tree fixes it.
	ErrUnknownHash = tree.ErrUnknownHash
)
