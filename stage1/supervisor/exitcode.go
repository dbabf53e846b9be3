package main

import "github.com/rkt/rkt/common/entrypoint"

// exitFailed is the supervisor's exit status when the pod could not be run,
// and the status recorded for an app that could not be started: the
// contract's failure status.
const exitFailed = entrypoint.ExitFailure
