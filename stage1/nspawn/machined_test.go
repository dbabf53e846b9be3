package main

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMachinedReachable talks to a real dbus-daemon as the system bus: a
// bus without machined is a "no" that names machined, and a missing bus
// socket is a "no" that names the bus. (A bus with machined is the systemd
// host's suite: machinectl lists the pod.)
func TestMachinedReachable(t *testing.T) {
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon is not installed")
	}
	sock := filepath.Join(t.TempDir(), "bus")
	cmd := exec.Command(daemon, "--session", "--nofork", "--nopidfile", "--address=unix:path="+sock)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// The socket file appears at bind(2), before dbus-daemon listens:
	// wait until it accepts a connection.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("dbus-daemon did not listen on its socket")
		}
		time.Sleep(10 * time.Millisecond)
	}

	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+sock)
	ok, err := machinedReachable()
	if ok {
		t.Fatal("machined answered on a bus that does not have it")
	}
	if err == nil || !strings.Contains(err.Error(), "systemd-machined") {
		t.Errorf("the reason does not name machined: %v", err)
	}

	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "none"))
	ok, err = machinedReachable()
	if ok {
		t.Fatal("a missing bus socket counted as reachable")
	}
	if err == nil || !strings.Contains(err.Error(), "system bus") {
		t.Errorf("the reason does not name the system bus: %v", err)
	}
}

func TestEscapeBind(t *testing.T) {
	for in, want := range map[string]string{
		"/plain":   "/plain",
		"/a:b":     `/a\:b`,
		`/back\sl`: `/back\\sl`,
	} {
		if got := escapeBind(in); got != want {
			t.Errorf("escapeBind(%q) = %q, want %q", in, got, want)
		}
	}
}
