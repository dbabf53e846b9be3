// Package systemd is the systemd suite: it drives rkt through real units,
// started and stopped with systemctl, on a host where systemd is PID 1 with
// journald, dbus and machined running (the VM of scripts/vm.sh). It uses
// the host's default data directory and configuration, as a unit does, so it
// runs only where it may: elsewhere every test skips and says why.
//
// The apps of its images are this test binary itself (static, copied into
// each image as /app), which acts as an app when it runs as /app.
package systemd

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// rktBinary is the installed rkt the units run: $RKT_TEST_BINARY, else rkt
// on PATH.
var rktBinary string

// skipReason says why this host cannot run the suite, "" when it can.
var skipReason string

func TestMain(m *testing.M) {
	if os.Args[0] == appPath {
		os.Exit(appMain(os.Args[1:]))
	}
	skipReason = hostProblem()
	os.Exit(m.Run())
}

func hostProblem() string {
	const how = "; run via scripts/vm.sh test"
	comm, err := os.ReadFile("/proc/1/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "systemd" {
		return "needs systemd as PID 1" + how
	}
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		return "needs a booted systemd (/run/systemd/system)" + how
	}
	if os.Geteuid() != 0 {
		return "needs root: it starts system units" + how
	}
	rktBinary = os.Getenv("RKT_TEST_BINARY")
	if rktBinary == "" {
		if rktBinary, err = exec.LookPath("rkt"); err != nil {
			return "needs an installed rkt (make install) or RKT_TEST_BINARY" + how
		}
	}
	if _, err := os.Stat(rktBinary); err != nil {
		return fmt.Sprintf("the rkt binary: %v%s", err, how)
	}
	return ""
}

// needHost skips t unless this host runs the suite.
func needHost(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip("skipping: " + skipReason)
	}
}
