// Package version holds the identity of this build: the project version, the
// appc spec version it implements, and the optional features compiled in.
//
// Invariant: these are the only version strings the binary reports; the
// build sets Version (and, when it differs, Features) with
//
//	-ldflags "-X github.com/rkt/rkt/stage0/version.Version=1.31.0"
//
// and nothing changes them at run time.
package version

// Version is the project version. Builds without ldflags (go build) report
// the release this tree heads for, from the VERSION file at the top of the
// tree, with "+dev": still rkt's version line, which clients such as Nomad
// check (rkt >= 1.27.0).
var Version = "1.31.0+dev"

// AppcVersion is the version of the appc spec the images, manifests and
// discovery follow.
const AppcVersion = "0.8.11"

// Features lists the optional build features, each prefixed with + (built
// in) or - (left out), in rkt's wording: TPM measurement and the systemd
// journal reader of the API service.
var Features = "-TPM -SDJOURNAL"
