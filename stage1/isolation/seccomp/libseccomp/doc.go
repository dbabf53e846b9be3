// Package libseccomp is a test-only bridge to the C library libseccomp,
// against which the seccomp package's differential test checks its
// compiler. It is built only with the libseccomp tag and cgo (Debian's
// libseccomp-dev); no rkt binary links it.
package libseccomp
