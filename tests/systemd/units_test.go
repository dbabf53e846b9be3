package systemd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
)

// TestRunUnitJournal runs a pod from a unit whose ExecStart= is `rkt run`
// (the shape of hello.service): the unit succeeds with the app's exit status
// and the journal holds the app's output.
func TestRunUnitJournal(t *testing.T) {
	needHost(t)
	msg := fmt.Sprintf("hello from the journal %d", time.Now().UnixNano())
	img := signedImage(t, "hello", []string{"hello", msg}, nil)
	const unit = "rkt-test-hello.service"
	writeUnit(t, unit, podService(img, "", true))
	run(t, "systemctl", "start", unit)
	p := waitStopped(t, unit)
	if p["Result"] != "success" || p["ExecMainStatus"] != "0" {
		t.Errorf("%s after the app exited 0: %v, want Result=success ExecMainStatus=0\njournal:\n%s", unit, p, journal(unit))
	}
	if j := journal(unit); !strings.Contains(j, msg) {
		t.Errorf("journalctl -u %s does not hold the app's output %q:\n%s", unit, msg, j)
	}
	// The supervisor's own entries carry rkt's fields: the app's name as
	// its syslog identifier, the app and the pod.
	out, err := exec.Command("journalctl", "-u", unit, "-o", "json", "RKT_APP=hello").Output()
	if err != nil {
		t.Fatalf("journalctl -u %s -o json RKT_APP=hello: %v", unit, err)
	}
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) != nil || e["MESSAGE"] != msg {
			continue
		}
		found = true
		if e["SYSLOG_IDENTIFIER"] != "hello" || e["RKT_POD_UUID"] == nil || e["RKT_POD_UUID"] == "" {
			t.Errorf("the app's journal entry lacks rkt's fields: %v", e)
		}
	}
	if !found {
		t.Errorf("journalctl -u %s -o json RKT_APP=hello has no entry %q:\n%s", unit, msg, out)
	}
}

// TestPodUnitNotify starts rkt-pod@.service (Type=notify) with an app that
// sends READY=1 itself: the unit stays activating until the app says so.
func TestPodUnitNotify(t *testing.T) {
	needHost(t)
	img := signedImage(t, "notify", []string{"notify"}, func(im *schema.ImageManifest) {
		im.Annotations.Set("appc.io/executor/supports-systemd-notify", "true")
	})
	unit, uuidFile := podUnit(t, img)
	run(t, "systemctl", "start", "--no-block", unit)
	uuid := readUUID(t, uuidFile, unit)
	waitFor(t, "the app to start", func() bool {
		return strings.Contains(journal(unit), "app: waiting for /go")
	}, func() string { return fmt.Sprint(show(unit, "ActiveState"), "\n", journal(unit)) })
	if s := show(unit, "ActiveState")["ActiveState"]; s != "activating" {
		t.Errorf("%s is %q before the app sent READY=1, want activating\njournal:\n%s", unit, s, journal(unit))
	}
	run(t, rktBinary, "enter", "--app=notify", uuid, appPath, "touch", "/go")
	var p map[string]string
	waitFor(t, unit+" to become active", func() bool {
		p = show(unit, "ActiveState")
		return p["ActiveState"] == "active"
	}, func() string { return fmt.Sprint(p, "\n", journal(unit)) })
	if !strings.Contains(journal(unit), "app: sent READY=1") {
		t.Errorf("%s is active but the app did not send READY=1:\n%s", unit, journal(unit))
	}
}

// TestPodUnitStop starts rkt-pod@.service, sees the pod in machined, stops
// the unit: the app gets SIGTERM and exits 0, the unit ends cleanly, rkt
// status shows the exit and machined forgets the pod.
func TestPodUnitStop(t *testing.T) {
	needHost(t)
	unit, uuid, _ := startSleeperUnit(t)
	run(t, "systemctl", "stop", unit)
	checkCleanStop(t, "systemctl stop", unit, uuid)
}

// TestMachinePoweroff: while a rkt-pod@.service runs, machined lists the
// pod and `machinectl status` shows it with its unit; `machinectl poweroff`
// stops it as cleanly as systemctl stop does (machined asks the pod's PID 1
// with SIGRTMIN+4, which the supervisor takes as a shutdown request).
func TestMachinePoweroff(t *testing.T) {
	needHost(t)
	unit, uuid, machine := startSleeperUnit(t)
	if st := run(t, "machinectl", "status", "--no-pager", machine); !strings.Contains(st, machine) || !strings.Contains(st, unit) {
		t.Errorf("machinectl status %s does not name the machine and its unit %s:\n%s", machine, unit, st)
	}
	run(t, "machinectl", "poweroff", machine)
	checkCleanStop(t, "machinectl poweroff", unit, uuid)
}

// startSleeperUnit starts rkt-pod@.service for an app that sleeps until
// SIGTERM, and checks that machined lists the pod. It returns the unit, the
// pod's UUID and its machine name.
func startSleeperUnit(t *testing.T) (unit, uuid, machine string) {
	t.Helper()
	img := signedImage(t, "sleeper", []string{"sleep"}, nil)
	unit, uuidFile := podUnit(t, img)
	run(t, "systemctl", "start", unit)
	uuid = readUUID(t, uuidFile, unit)
	machine = "rkt-" + uuid
	if m := machines(); !strings.Contains(m, machine) {
		t.Errorf("machinectl list while the pod runs does not show %s:\n%s", machine, m)
	}
	return unit, uuid, machine
}

// checkCleanStop waits for the pod unit to stop after how, and checks that
// the stop was clean: the app got SIGTERM and exited 0, the unit ended with
// success, rkt status shows the exit, and machined forgot the pod.
func checkCleanStop(t *testing.T, how, unit, uuid string) {
	t.Helper()
	p := waitStopped(t, unit)
	if p["ActiveState"] != "inactive" || p["Result"] != "success" {
		t.Errorf("%s after %s: %v, want inactive with Result=success\njournal:\n%s", unit, how, p, journal(unit))
	}
	if j := journal(unit); !strings.Contains(j, "app: terminated") {
		t.Errorf("after %s the app did not get SIGTERM (no \"app: terminated\" in the journal):\n%s", how, j)
	}
	// The unit's ExecStopPost= marked the pod for gc: "exited garbage".
	st := status(t, uuid)
	if (st["state"] != "exited" && st["state"] != "exited garbage") || st["exited"] != "true" || st["app-sleeper"] != "0" {
		t.Errorf("rkt status %s after %s: %v, want state=exited (or exited garbage) exited=true app-sleeper=0", uuid, how, st)
	}
	machine := "rkt-" + uuid
	waitFor(t, "machined to forget "+machine, func() bool { return !strings.Contains(machines(), machine) },
		func() string { return "machinectl list:\n" + machines() })
}

// TestSocketActivation: a .socket unit listens, the first connection starts
// the service, whose pod's app (port socketActivated) answers on the
// socket it was handed.
func TestSocketActivation(t *testing.T) {
	needHost(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	msg := fmt.Sprintf("greetings from an activated app %d", time.Now().UnixNano())
	img := signedImage(t, "greeter", []string{"greet", msg}, func(im *schema.ImageManifest) {
		im.App.Ports = []types.Port{{Name: "greet", Protocol: "tcp", Port: uint(port), SocketActivated: true}}
	})
	const name = "rkt-test-greeter"
	writeUnit(t, name+".service", podService(img, "", true))
	writeUnit(t, name+".socket", fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\n", port))
	run(t, "systemctl", "start", name+".socket")
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Minute)
	if err != nil {
		t.Fatalf("connecting to the socket unit: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitLimit))
	answer := make(chan string, 1)
	go func() {
		line, err := bufio.NewReader(c).ReadString('\n')
		answer <- fmt.Sprintf("%q (%v)", line, err)
	}()
	// The socket starts the service again after a failure: the first one
	// is enough to know.
	var got string
	waitFor(t, "the activated app's answer", func() bool {
		select {
		case got = <-answer:
			return true
		default:
		}
		if strings.Contains(journal(name+".service"), "Failed with result") {
			got = "nothing: the service failed"
			return true
		}
		return false
	}, func() string { return journal(name + ".service") })
	if got != fmt.Sprintf("%q (<nil>)", msg+"\n") {
		t.Errorf("the activated app answered %s, want %q\n%s journal:\n%s", got, msg, name, journal(name+".service"))
	}
}

// TestGCTimer: rkt-gc.timer, as installed, runs rkt-gc.service, which
// removes an exited pod (with the grace period set to 0 and the timer due
// at once, by drop-ins, as its comments show).
func TestGCTimer(t *testing.T) {
	needHost(t)
	img := signedImage(t, "shortlived", []string{"hello", "bye"}, nil)
	const unit = "rkt-test-gc.service"
	uuidFile := filepath.Join(t.TempDir(), "uuid")
	writeUnit(t, unit, podService(img, "--uuid-file-save="+uuidFile, true))
	run(t, "systemctl", "start", unit)
	waitStopped(t, unit)
	uuid := readUUID(t, uuidFile, unit)
	if out := output(rktBinary, "list", "--no-legend", "--full"); !strings.Contains(out, uuid) {
		t.Fatalf("rkt list does not show the exited pod %s before gc:\n%s", uuid, out)
	}
	dropIn(t, "rkt-gc.service", "[Service]\nEnvironment=GRACE_PERIOD=0s\n")
	dropIn(t, "rkt-gc.timer", "[Timer]\nOnActiveSec=1s\nRandomizedDelaySec=0\n")
	before := show("rkt-gc.service", "ExecMainExitTimestampMonotonic")["ExecMainExitTimestampMonotonic"]
	run(t, "systemctl", "restart", "rkt-gc.timer")
	t.Cleanup(func() { output("systemctl", "stop", "rkt-gc.timer") })
	var p map[string]string
	waitFor(t, "rkt-gc.service to run", func() bool {
		p = show("rkt-gc.service", "ExecMainExitTimestampMonotonic", "ActiveState", "Result")
		return p["ExecMainExitTimestampMonotonic"] != before && p["ActiveState"] != "activating"
	}, func() string { return fmt.Sprint(p, "\n", journal("rkt-gc.service")) })
	if p["Result"] != "success" {
		t.Errorf("rkt-gc.service: %v, want Result=success\njournal:\n%s", p, journal("rkt-gc.service"))
	}
	if out := output(rktBinary, "list", "--no-legend", "--full"); strings.Contains(out, uuid) {
		t.Errorf("rkt list still shows %s after rkt-gc.timer ran:\n%s", uuid, out)
	}
}

// TestKillLeavesNothing: systemctl kill (SIGKILL) of a pod's unit, then
// `rkt gc`: no mount, cgroup or network namespace of the pod remains.
func TestKillLeavesNothing(t *testing.T) {
	needHost(t)
	img := signedImage(t, "victim", []string{"sleep"}, nil)
	const unit = "rkt-test-victim.service"
	uuidFile := filepath.Join(t.TempDir(), "uuid")
	writeUnit(t, unit, podService(img, "--uuid-file-save="+uuidFile, false))
	netnsBefore := output("ip", "netns", "list")
	run(t, "systemctl", "start", unit)
	uuid := readUUID(t, uuidFile, unit)
	waitFor(t, "the app to run", func() bool {
		return strings.Contains(journal(unit), "app: running")
	}, func() string { return journal(unit) })
	run(t, "systemctl", "kill", "--signal=SIGKILL", unit)
	waitStopped(t, unit)
	run(t, rktBinary, "gc", "--grace-period=0s")

	if out := output(rktBinary, "list", "--no-legend", "--full"); strings.Contains(out, uuid) {
		t.Errorf("rkt list still shows %s after rkt gc:\n%s", uuid, out)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mounts), "\n") {
		if strings.Contains(l, uuid) {
			t.Errorf("a mount of the pod remains: %s", l)
		}
	}
	// The pod's cgroups: anything below the unit's, or named for the pod.
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/machine.slice", unit)); err == nil {
		t.Errorf("the unit's cgroup /sys/fs/cgroup/machine.slice/%s remains", unit)
	}
	uuidRe := regexp.MustCompile(strings.ReplaceAll(regexp.QuoteMeta(uuid), `\-`, `(-|\\x2d)?`))
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && uuidRe.MatchString(d.Name()) {
			t.Errorf("a cgroup of the pod remains: %s", p)
		}
		return nil
	})
	if after := output("ip", "netns", "list"); after != netnsBefore {
		t.Errorf("network namespaces before the pod:\n%s\nafter systemctl kill and rkt gc:\n%s", netnsBefore, after)
	}
}

// podService is a service running the image file img in a pod, in the
// shape of hello.service: rkt run (with runFlags) as the main process,
// and, when markGC, rkt gc --mark-only after it.
func podService(img, runFlags string, markGC bool) string {
	u := "[Service]\nSlice=machine.slice\n" +
		fmt.Sprintf("ExecStart=%s run %s %s\n", rktBinary, runFlags, img)
	if markGC {
		u += fmt.Sprintf("ExecStopPost=%s gc --mark-only\n", rktBinary)
	}
	return u + "KillMode=mixed\nDelegate=yes\n"
}
