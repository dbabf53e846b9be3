package apiservice

import "errors"

// ErrListenWithSockets: --listen given to a service that systemd started
// with sockets (socket activation); rkt 1.30 refused the same.
var ErrListenWithSockets = errors.New("started with sockets from systemd (socket activation), but --listen was given too")
