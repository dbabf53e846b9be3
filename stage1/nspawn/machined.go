package main

import (
	"fmt"
	"time"

	"github.com/coreos/go-systemd/v22/machine1"
)

// machinedProbeTimeout bounds the whole probe: connecting to the system
// bus, authenticating and one call to machined (which bus-activates it
// where it is installed but not running).
const machinedProbeTimeout = 2 * time.Second

// machinedReachable reports whether systemd-machined answers on the system
// bus ($DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket). The
// pod is then registered with it by nspawn (--register=yes), as rkt 1.30
// did, so that machinectl list, status and poweroff see the pod. Any
// failure means "no", and why is returned for --debug.
func machinedReachable() (bool, error) {
	res := make(chan error, 1)
	go func() {
		conn, err := machine1.New()
		if err != nil {
			res <- fmt.Errorf("connecting to the system bus: %w", err)
			return
		}
		defer conn.Close()
		if _, err := conn.ListMachines(); err != nil {
			res <- fmt.Errorf("asking systemd-machined for its machines: %w", err)
			return
		}
		res <- nil
	}()
	select {
	case err := <-res:
		return err == nil, err
	case <-time.After(machinedProbeTimeout):
		// The goroutine is left behind: the caller execs nspawn next.
		return false, fmt.Errorf("systemd-machined did not answer within %v", machinedProbeTimeout)
	}
}
