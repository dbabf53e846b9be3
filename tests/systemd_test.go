package tests

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
)

// machinedNote is what the nspawn stage1 says under --debug when it does
// not register the pod with systemd-machined.
const machinedNote = "not registering the pod with systemd-machined"

// machinedAnswers reports whether systemd-machined answers on the system
// bus, as machinectl sees it.
func machinedAnswers() bool {
	if _, err := exec.LookPath("machinectl"); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "machinectl", "list", "--no-legend").Run() == nil
}

func machinectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "machinectl", args...).CombinedOutput()
	return string(out), err
}

// TestMachinedRegistration: where systemd-machined runs (a host booted by
// systemd), a pod is a machine named rkt-<uuid> while it runs: machinectl
// list and status show it, machinectl poweroff stops it (the pod's PID 1
// takes SIGRTMIN+4 as a shutdown request) and rkt status shows it exited;
// machined forgets it after. Where machined does not answer (no system
// bus, as on a host whose init is not systemd), the pod runs unregistered
// and only --debug says why.
func TestMachinedRegistration(t *testing.T) {
	pe := newPodEnv(t)
	img := pe.shImage("sleeper", sleeper) // exits 0 on SIGTERM
	pe.ok("fetch", img)

	if !machinedAnswers() {
		quick := pe.shImage("quick", "exit 0")
		pe.ok("fetch", quick)
		_, stderr, code := pe.run("--debug", quick)
		if code != 0 {
			t.Fatalf("rkt run --debug: exit %d\n%s", code, stderr)
		}
		if !strings.Contains(stderr, machinedNote) {
			t.Errorf("rkt run --debug without machined does not say it registers nothing:\n%s", stderr)
		}
		_, stderr, code = pe.run(quick)
		if code != 0 || strings.Contains(stderr, machinedNote) {
			t.Errorf("rkt run without --debug: exit %d, and it should not mention machined:\n%s", code, stderr)
		}
		t.Skip("systemd-machined does not answer on the system bus here: registration itself is tested on a host booted by systemd")
	}

	uuid, wait := pe.startPod(img)
	pe.ok("status", "--wait-ready=30s", uuid)
	machine := "rkt-" + uuid
	list, err := machinectl(t, "list", "--no-legend")
	if err != nil || !strings.Contains(list, machine) {
		t.Fatalf("machinectl list does not show %s (%v):\n%s", machine, err, list)
	}
	if out, err := machinectl(t, "status", machine); err != nil {
		t.Errorf("machinectl status %s: %v\n%s", machine, err, out)
	}
	if out, err := machinectl(t, "poweroff", machine); err != nil {
		t.Fatalf("machinectl poweroff %s: %v\n%s", machine, err, out)
	}
	code, out := wait()
	if code != 0 {
		t.Errorf("rkt run after machinectl poweroff: exit %d, want 0 (a clean stop)\n%s", code, out)
	}
	if st := pe.status(uuid); st["state"] != "exited" || st["app-sleeper"] != "0" {
		t.Errorf("rkt status after machinectl poweroff: %v, want state=exited app-sleeper=0", st)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, _ = machinectl(t, "list", "--no-legend")
		if !strings.Contains(list, machine) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("machined still lists %s after the pod exited:\n%s", machine, list)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPodNotifyReady: run as a Type=notify service (NOTIFY_SOCKET set by
// the service manager; here a datagram socket of the test's own), the
// pod tells the service manager READY=1 once its app runs: the supervisor
// sends it to nspawn, which runs with --notify-ready=yes and relays it.
func TestPodNotifyReady(t *testing.T) {
	pe := newPodEnv(t)
	img := pe.shImage("sleeper", sleeper)
	pe.ok("fetch", img)
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	uuid, wait := pe.startPodIn(func(c *exec.Cmd) { c.Env = append(c.Env, "NOTIFY_SOCKET="+sock) }, "", img)
	if err := conn.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var got []string
	buf := make([]byte, 4096)
	for ready := false; !ready; {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no READY=1 from the pod (%v); got %q", err, got)
		}
		got = append(got, string(buf[:n]))
		for _, l := range strings.Split(string(buf[:n]), "\n") {
			ready = ready || l == "READY=1"
		}
	}
	if st := pe.status(uuid); st["state"] != "running" {
		t.Errorf("the pod said READY=1 but rkt status says %v", st)
	}
	pe.ok("stop", uuid)
	if code, out := wait(); code != 0 {
		t.Errorf("rkt run after stop: exit %d\n%s", code, out)
	}
}

// TestPodSocketActivation: a socket made by the service manager (here
// systemd-socket-activate, which listens and starts rkt run on the first
// connection, as a .socket unit starts its service) reaches the app with
// a socketActivated port as fds 3 and 4 (two sockets, as a .socket unit
// with two ListenStream= gives), with LISTEN_FDS=2, LISTEN_PID its own
// pid (sd_listen_fds(3)) and LISTEN_FDNAMES naming both after the app's
// socket unit as rkt 1.30's pod did (web.socket), through stage0, the
// stage1, nspawn and the supervisor; and through the fly stage1, which
// becomes the app by exec.
func TestPodSocketActivation(t *testing.T) {
	for _, flavor := range []string{"nspawn", "fly"} {
		t.Run(flavor, func(t *testing.T) { testPodSocketActivation(t, flavor) })
	}
}

func testPodSocketActivation(t *testing.T, flavor string) {
	sa, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("systemd-socket-activate (package systemd) is not installed")
	}
	pe := newPodEnv(t)
	if flavor == "fly" {
		pe.stage1 = []string{"--stage1-path=" + pe.flyPath}
	}
	script := `echo "fds=$LISTEN_FDS names=$LISTEN_FDNAMES pid-ok=$([ "$LISTEN_PID" = "$$" ] && echo yes) fd3=$(readlink /proc/self/fd/3 | cut -d: -f1) fd4=$(readlink /proc/self/fd/4 | cut -d: -f1)"`
	img := pe.busyboxImage("web", []string{"/bin/sh", "-c", script}, func(im *schema.ImageManifest) {
		im.App.Ports = append(im.App.Ports, types.Port{Name: "http", Protocol: "tcp", Port: 80, Count: 1, SocketActivated: true})
	})
	pe.ok("fetch", img)

	// Two free ports, for systemd-socket-activate to listen on.
	var addrs []string
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, l.Addr().String())
		l.Close()
	}
	addr := addrs[0]
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := pe.command(ctx, pe.withStage1("run", []string{img})...)
	args := []string{sa, "-l", addrs[0], "-l", addrs[1]}
	for _, kv := range cmd.Env {
		args = append(args, "-E", kv)
	}
	cmd.Args = append(append(args, cmd.Path), cmd.Args[1:]...)
	cmd.Path = sa
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// systemd-socket-activate starts rkt run on the first connection.
	var conn net.Conn
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if conn, err = net.Dial("tcp", addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("systemd-socket-activate does not listen on %s: %v\n%s", addr, err, out.String())
		}
	}
	defer conn.Close()
	err = cmd.Wait()
	t.Logf("systemd-socket-activate -l %s -l %s rkt run: %v\n%s", addrs[0], addrs[1], err, out.String())
	if err != nil {
		t.Fatalf("rkt run under systemd-socket-activate: %v", err)
	}
	const want = "fds=2 names=web.socket:web.socket pid-ok=yes fd3=socket fd4=socket"
	if !hasLine(out.String(), want) {
		t.Errorf("the app did not get the socket as fd 3 with its LISTEN_FDS and LISTEN_PID: want a line %q", want)
	}
}
