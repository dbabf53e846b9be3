package caps

import "errors"

var (
	// ErrUnknownCapability: a name that is not a Linux capability.
	ErrUnknownCapability = errors.New("unknown capability")
	// ErrConflict: both a retain set and a remove set were given for one app.
	ErrConflict = errors.New("capabilities retain and remove sets are exclusive")
	// ErrNotExecutable: the app's executable was not found or cannot be run.
	ErrNotExecutable = errors.New("executable not found")
)
