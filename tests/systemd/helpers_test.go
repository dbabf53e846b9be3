package systemd

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/stage0/trust/trusttest"
	"github.com/rkt/rkt/store/storetest"
)

// prefix names every image of the suite; its key is trusted once.
const prefix = "example.com/systemd-tests"

// waitLimit bounds every wait for a unit or a pod: generous, because the
// suite runs under CPU emulation.
const waitLimit = 5 * time.Minute

var (
	keyOnce sync.Once
	key     *trusttest.Key
	keyErr  string
)

// trustedKey makes the suite's signing key and trusts it for prefix in the
// system's configuration, as an administrator would.
func trustedKey(t *testing.T) *trusttest.Key {
	t.Helper()
	keyOnce.Do(func() {
		k := trusttest.NewKey(t, "rkt systemd tests <systemd-tests@example.com>")
		dir, err := os.MkdirTemp("", "rkt-systemd-key-")
		if err != nil {
			keyErr = err.Error()
			return
		}
		defer os.RemoveAll(dir)
		p := filepath.Join(dir, "key.asc")
		if err := os.WriteFile(p, k.ArmoredPublic(t), 0o644); err != nil {
			keyErr = err.Error()
			return
		}
		if out, err := exec.Command(rktBinary, "trust", "--prefix="+prefix, "--skip-fingerprint-review", p).CombinedOutput(); err != nil {
			keyErr = fmt.Sprintf("rkt trust: %v\n%s", err, out)
			return
		}
		key = k
	})
	if keyErr != "" {
		t.Fatal(keyErr)
	}
	return key
}

// signedImage writes <dir>/<app>.aci and its signature: the image
// example.com/systemd-tests/<app> whose app runs /app with args (this test
// binary), changed by mod. It returns the image file's path.
func signedImage(t *testing.T, app string, args []string, mod func(*schema.ImageManifest)) string {
	t.Helper()
	k := trustedKey(t)
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatalf("reading the test binary: %v", err)
	}
	im := schema.BlankImageManifest()
	im.Name = types.ACIdentifier(prefix + "/" + app)
	for _, l := range [][2]string{{"version", "1.0"}, {"os", "linux"}, {"arch", "amd64"}} {
		im.Labels = append(im.Labels, types.Label{Name: types.ACIdentifier(l[0]), Value: l[1]})
	}
	im.App = &types.App{Exec: append([]string{appPath}, args...), User: "0", Group: "0"}
	if mod != nil {
		mod(im)
	}
	manifest, err := json.Marshal(im)
	if err != nil {
		t.Fatal(err)
	}
	aci := storetest.BuildACIWithManifest(t, manifest, storetest.File{Name: "app", Body: self, Mode: 0o755})
	p := filepath.Join(t.TempDir(), app+".aci")
	if err := os.WriteFile(p, aci, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p+".asc", k.Sign(t, aci), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs a command and returns its combined output; failing it fails t.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	t.Logf("%s %s\n%s", name, strings.Join(args, " "), out)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// output runs a command quietly (it is polled) and returns its stdout.
func output(name string, args ...string) string {
	out, _ := exec.Command(name, args...).Output()
	return string(out)
}

// writeUnit installs a unit file (and removes it, stopped, after the test).
func writeUnit(t *testing.T, name, content string) {
	t.Helper()
	p := filepath.Join("/etc/systemd/system", name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("systemctl", "stop", name).Run()
		os.Remove(p)
		exec.Command("systemctl", "reset-failed", name).Run()
		exec.Command("systemctl", "daemon-reload").Run()
	})
	run(t, "systemctl", "daemon-reload")
}

// dropIn adds a drop-in to a unit for the test's duration.
func dropIn(t *testing.T, unit, content string) {
	t.Helper()
	d := filepath.Join("/etc/systemd/system", unit+".d")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(d, "test.conf")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(p)
		os.Remove(d)
		exec.Command("systemctl", "daemon-reload").Run()
	})
	run(t, "systemctl", "daemon-reload")
}

// show returns the properties of a unit, as systemctl show prints them.
func show(unit string, props ...string) map[string]string {
	m := map[string]string{}
	out := output("systemctl", "show", unit, "-p", strings.Join(props, ","))
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// waitFor polls cond until it holds, failing t after waitLimit with what
// describe says then.
func waitFor(t *testing.T, what string, cond func() bool, describe func() string) {
	t.Helper()
	for deadline := time.Now().Add(waitLimit); !cond(); time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; now: %s", waitLimit, what, describe())
		}
	}
}

// waitStopped waits until unit is no longer active nor activating nor
// deactivating, and returns its properties then.
func waitStopped(t *testing.T, unit string) map[string]string {
	t.Helper()
	props := []string{"ActiveState", "SubState", "Result", "ExecMainStatus"}
	var p map[string]string
	waitFor(t, unit+" to stop", func() bool {
		p = show(unit, props...)
		return p["ActiveState"] == "inactive" || p["ActiveState"] == "failed"
	}, func() string { return fmt.Sprint(p) })
	return p
}

// journal returns what the journal holds for unit, messages only.
func journal(unit string) string {
	return output("journalctl", "--no-pager", "-o", "cat", "-u", unit)
}

// podUnit installs rkt-pod@.service as make install ships it, with rkt's
// path adjusted as its comment asks, and returns the instance unit's name
// for the image file img and the path of its UUID file.
func podUnit(t *testing.T, img string) (unit, uuidFile string) {
	t.Helper()
	src, err := os.ReadFile("/usr/share/doc/rkt/examples/rkt-pod@.service")
	if err != nil {
		t.Fatalf("the installed example unit: %v", err)
	}
	writeUnit(t, "rkt-pod@.service", strings.ReplaceAll(string(src), "/usr/local/bin/rkt", rktBinary))
	// Starting a pod takes long under emulation; the default of 90 s is
	// too short there.
	dropIn(t, "rkt-pod@.service", "[Service]\nTimeoutStartSec=10min\n")
	unit = strings.TrimSpace(run(t, "systemd-escape", "--template=rkt-pod@.service", img))
	inst := strings.TrimSuffix(strings.TrimPrefix(unit, "rkt-pod@"), ".service")
	return unit, "/run/rkt-pod-" + inst + ".uuid"
}

// readUUID waits for a UUID file and returns the UUID in it.
func readUUID(t *testing.T, path, unit string) string {
	t.Helper()
	var uuid string
	waitFor(t, "the pod's UUID in "+path, func() bool {
		b, err := os.ReadFile(path)
		uuid = strings.TrimSpace(string(b))
		return err == nil && uuid != ""
	}, func() string { return fmt.Sprint(show(unit, "ActiveState", "Result"), "\n", journal(unit)) })
	return uuid
}

// status parses `rkt status UUID`.
func status(t *testing.T, uuid string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, l := range strings.Split(run(t, rktBinary, "status", uuid), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// machines returns what `machinectl list` shows.
func machines() string {
	return output("machinectl", "list", "--no-legend", "--no-pager")
}
