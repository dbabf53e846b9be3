//go:build tools

// Package cosign pins the cosign CLI that the signature tests build and
// sign with. It is a module of its own so that cosign's dependencies stay
// out of rkt's go.mod.
package cosign

import _ "github.com/sigstore/cosign/v2/cmd/cosign"
