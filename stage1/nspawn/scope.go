package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// scopeTimeout bounds asking systemd for the pod's scope.
const scopeTimeout = 10 * time.Second

// podSlice is the slice the pod's scope goes in, beside other containers
// and virtual machines, as nspawn's own machine scopes.
const podSlice = "machine.slice"

// podScope is the transient scope unit the nspawn stage1 asks systemd for
// on a cgroup v2 host when its own cgroup cannot be the pod's parent.
func podScope(uuid string) string { return "rkt-" + uuid + ".scope" }

// aloneIn reports whether the calling process is the only one in the
// cgroup v2 directory dir: only then may it move out and have the cgroup
// delegate controllers to the pod.
func aloneIn(dir string) (bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return false, err
	}
	self := strconv.Itoa(os.Getpid())
	for _, f := range strings.Fields(string(data)) {
		if f != self {
			return false, nil
		}
	}
	return true, nil
}

// startScope moves the calling process into a new transient scope unit
// (podScope) in podSlice with Delegate=yes, through systemd's D-Bus API,
// and waits for systemd to have started it: the pod's cgroup then lives
// below a cgroup systemd delegated to it, and nspawn --keep-unit registers
// that scope as the machine.
func startScope(uuid string) error {
	ctx, cancel := context.WithTimeout(context.Background(), scopeTimeout)
	defer cancel()
	conn, err := sddbus.NewWithContext(ctx)
	if err != nil {
		return fmt.Errorf("asking systemd for the pod's scope: connecting: %w", err)
	}
	defer conn.Close()
	props := []sddbus.Property{
		sddbus.PropDescription("rkt pod " + uuid),
		sddbus.PropSlice(podSlice),
		sddbus.PropPids(uint32(os.Getpid())),
		{Name: "Delegate", Value: godbus.MakeVariant(true)},
	}
	done := make(chan string, 1)
	if _, err := conn.StartTransientUnitContext(ctx, podScope(uuid), "fail", props, done); err != nil {
		return fmt.Errorf("asking systemd for the pod's scope %s: %w", podScope(uuid), err)
	}
	select {
	case res := <-done:
		if res != "done" {
			return fmt.Errorf("asking systemd for the pod's scope %s: the job ended %q", podScope(uuid), res)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("asking systemd for the pod's scope %s: %w", podScope(uuid), ctx.Err())
	}
}
