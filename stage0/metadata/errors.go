package metadata

import "errors"

var (
	// ErrNotRegistered: no pod is registered under that UUID.
	ErrNotRegistered = errors.New("pod not registered with the metadata service")
	// ErrAlreadyRegistered: the UUID or the token is taken by a registered pod.
	ErrAlreadyRegistered = errors.New("pod already registered with the metadata service")
	// ErrBadRegistration: a registration that cannot be served (bad UUID,
	// token, manifest, or an app without its image manifest).
	ErrBadRegistration = errors.New("invalid metadata service registration")
	// ErrServiceUnavailable: nothing answers on the registration socket.
	ErrServiceUnavailable = errors.New("metadata service not running (start it with `rkt metadata-service`)")
)
