package caps

import (
	"errors"

	"github.com/rkt/rkt/common/isospec"
)

var (
	// ErrUnknownCapability: a name that is not a Linux capability.
	ErrUnknownCapability = isospec.ErrUnknownCapability
	// ErrConflict: both a retain set and a remove set were given for one app.
	ErrConflict = errors.New("capabilities retain and remove sets are exclusive")
	// ErrNotExecutable: the app's executable was not found or cannot be run.
	ErrNotExecutable = errors.New("executable not found")
	// ErrMainThread: ConfineThread was called on the main thread, which
	// would stay confined for the rest of the process's life.
	ErrMainThread = errors.New("confining the main thread, which cannot end: lock the main goroutine to it in an init function (runtime.LockOSThread)")
)
