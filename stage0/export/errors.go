package export

import "errors"

var (
	// ErrNotExited is rkt's refusal of a pod that has not exited.
	ErrNotExited = errors.New("pod is not exited. Only exited pods can be exported")
