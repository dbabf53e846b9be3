package main

import podrun "github.com/rkt/rkt/stage0/run"

// The build's stage1 defaults, set by the Makefile from configure's
// options with -ldflags "-X main.NAME=VALUE". A plain `go build` leaves
// them empty: rkt then finds stage1-nspawn.aci beside its binary only.
var (
	// defaultStage1Flavor: --with-stage1-default-flavor.
	defaultStage1Flavor = "nspawn"
	// buildStage1ImagesDir: --with-stage1-images-directory, where make
	// install puts the stage1 images; trusted without a signature.
	buildStage1ImagesDir string
	// buildStage1Location: --with-stage1-default-location, an absolute
	// path (trusted) or a URL (verified).
	buildStage1Location string
	// buildStage1Name and buildStage1Version:
	// --with-stage1-default-name and --with-stage1-default-version, looked
	// up in the store first.
	buildStage1Name, buildStage1Version string
)

func stage1Build() podrun.Stage1Build {
	return podrun.Stage1Build{
		Name:      buildStage1Name,
		Version:   buildStage1Version,
		Location:  buildStage1Location,
		Flavor:    defaultStage1Flavor,
		ImagesDir: buildStage1ImagesDir,
	}
}
