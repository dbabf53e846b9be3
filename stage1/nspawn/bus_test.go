package main

import (
	"net"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestPingBusName talks to a real dbus-daemon: the bus driver answers a
// Ping, a name nobody owns does not, and a missing socket is a "no".
func TestPingBusName(t *testing.T) {
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
	if err := pingBusName(sock, "org.freedesktop.DBus", "/org/freedesktop/DBus"); err != nil {
		t.Errorf("pinging the bus driver: %v", err)
	}
	if err := pingBusName(sock, machinedName, machinedPath); err == nil {
		t.Errorf("machined answered on a session bus that does not have it")
	}
	if err := pingBusName(filepath.Join(t.TempDir(), "none"), machinedName, machinedPath); err == nil {
		t.Errorf("a missing bus socket counted as reachable")
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
