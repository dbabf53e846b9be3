package pod

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound: no pod has the UUID or UUID prefix.
	ErrNotFound = errors.New("no such pod")
	// ErrAmbiguous: more than one pod has the UUID prefix.
	ErrAmbiguous = errors.New("ambiguous pod UUID prefix")
	// ErrInvalidUUID: the UUID (prefix) has characters a pod UUID never has.
	ErrInvalidUUID = errors.New("invalid pod UUID")
	// ErrNoPid: the pod has no pid (yet): stage1 has not written pid/ppid, or
	// its PID 1 has not been forked yet.
	ErrNoPid = errors.New("pod has no pid yet")
	// ErrLocked: another process holds the pod's lock.
	ErrLocked = errors.New("pod is locked by another process")
	// ErrRunning is matched (errors.Is) by a *StateError for a running pod.
	ErrRunning = errors.New("pod is running")
	// ErrExitedBeforeReady: WaitReady saw the pod exit before it was ready.
	ErrExitedBeforeReady = errors.New("pod exited before it was ready")
	// ErrMountsRemain: a mount is still present under a pod directory, so it
	// is not removed (that would delete through the mount).
	ErrMountsRemain = errors.New("mounts remain under the pod directory")
	// ErrStage1GC: the pod's stage1 gc entrypoint failed, so GC kept the
	// pod for the next GC to retry.
	ErrStage1GC = errors.New("stage1 gc failed; the pod is kept for the next gc to retry (rkt rm removes it regardless)")
)

// StateError says an operation is not possible in the pod's current state.
// Its text is rkt's ("pod \"<uuid>\" is currently running").
type StateError struct {
	UUID  string
	State State
	Op    string // what was refused, e.g. "moving to prepared"
}

func (e *StateError) Error() string {
	switch e.State {
	case Running:
		return fmt.Sprintf("pod %q is currently running", e.UUID)
	case Embryo, Preparing:
		return fmt.Sprintf("pod %q is currently being prepared", e.UUID)
	case Deleting, ExitedDeleting:
		return fmt.Sprintf("pod %q is currently being deleted", e.UUID)
	}
	if e.Op != "" {
		return fmt.Sprintf("%s: pod %q is %s", e.Op, e.UUID, e.State)
	}
	return fmt.Sprintf("pod %q is %s", e.UUID, e.State)
}

// Is makes errors.Is(err, ErrRunning) true for a running pod.
func (e *StateError) Is(target error) bool {
	return target == ErrRunning && e.State == Running
}
