package metadata

import (
	"net"
	"os"
	"sync"
	"syscall"
)

var umaskMu sync.Mutex

// listenUnixMode creates a unix socket at path that only its owner can
// connect to: created under umask 077, then chmod 0600.
func listenUnixMode(path string) (net.Listener, error) {
	umaskMu.Lock()
	old := syscall.Umask(0o077)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	umaskMu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}
