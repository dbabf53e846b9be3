package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/rkt/rkt/stage1/appexec"
)

// notifySocketInApp is where an app that supports sd_notify finds its
// NOTIFY_SOCKET, inside its own rootfs.
const notifySocketInApp = "/run/rkt/notify"

// sdNotify sends state (e.g. "READY=1") to the service manager's
// NOTIFY_SOCKET, if it gave one; nspawn --notify-ready=yes gives the
// supervisor its own and relays READY=1 to the unit.
func sdNotify(state string) error {
	if _, err := daemon.SdNotify(false, state); err != nil {
		return fmt.Errorf("notifying the service manager of %s: %w", state, err)
	}
	return nil
}

// setupNotify gives a notify app its own socket at /run/rkt/notify in its
// rootfs and sets r.ready when a READY=1 arrives on it. The socket is bound
// through a descriptor of its directory opened inside the rootfs, so a
// symlinked /run cannot place it elsewhere.
func (r *runner) setupNotify(root *os.Root) error {
	if !r.spec.Notify {
		return nil
	}
	dir, err := appexec.ResolveInRoot(root, "/run/rkt")
	if err != nil {
		return fmt.Errorf("creating the notify socket: %w", err)
	}
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the notify socket: %w", err)
	}
	if err := root.Remove(dir + "/notify"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("creating the notify socket: %w", err)
	}
	d, err := root.Open(dir)
	if err != nil {
		return fmt.Errorf("creating the notify socket: %w", err)
	}
	defer d.Close()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: appexec.FdPath(d) + "/notify", Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("creating the notify socket: %w", err)
	}
	if err := root.Chmod(dir+"/notify", 0o666); err != nil {
		conn.Close()
		return fmt.Errorf("creating the notify socket: %w", err)
	}
	go r.readNotify(conn)
	return nil
}

// readNotify waits for READY=1 from the app. The socket is closed when the
// runner is done.
func (r *runner) readNotify(conn *net.UnixConn) {
	go func() {
		<-r.done.Done()
		conn.Close()
	}()
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(bytes.TrimSpace(buf[:n])), "\n") {
			if line == "READY=1" {
				r.sup.Log.Debug("app reported ready", "app", r.spec.Name)
				r.ready.Set()
			}
		}
	}
}
