// Package tests is the functional test suite: it builds the rkt binary once
// and drives it end to end, as root, the way a user or a systemd unit would.
//
// Invariants of the suite:
//
//   - Every test runs rkt with its own --dir, --local-config and
//     --system-config (fresh temporary directories), so tests never share
//     store or trust state and may run in parallel.
//   - Images, signatures and keys are real: ACI tars built in the test,
//     OpenPGP keys and detached signatures generated in the test.
//   - Remote images and keys are served by one in-process HTTPS server on
//     127.0.0.1:443 (and [::1]:443 when available) with a certificate for
//     "localhost" signed by a CA generated at start-up; rkt trusts that CA
//     through SSL_CERT_FILE. A plain HTTP server on port 80 serves the same
//     handlers for the tests of the http refusals. Each test registers its
//     handlers under its own first path element, so image names look like
//     localhost/<test>/app.
//   - A test asserts what a user can observe: stdout, stderr, the exit code,
//     `rkt image list` and the files of the data directory.
//
// The binary is built from this module, or taken from $RKT_TEST_BINARY.
// Without root the whole suite is skipped.
package tests
