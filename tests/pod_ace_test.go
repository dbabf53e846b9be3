package tests

import (
	"archive/tar"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rkt/rkt/stage1/network"
	"github.com/rkt/rkt/store/storetest"
)

// aceModule is the module whose ace/ directory holds the appc executor
// validator: one binary with main, sidekick, prestart and poststop modes,
// and the manifests of its two images.
const aceModule = "github.com/appc/spec"

// metadataSocket is where `rkt metadata-service` listens for registrations.
const metadataSocket = "/run/rkt/metadata-svc.sock"

// TestPodACEValidator runs the appc ACE validator's main and sidekick
// images in one pod, registered with the metadata service and sharing an
// empty volume: prestart, main, sidekick and poststop must all pass, on
// the host's network and on a network of the pod's own, the default one
// and one from net.d, where AC_METADATA_URL must name the host's address
// on that network (as rkt 1.30 gave it), not the pod's own loopback.
//
// The cases run one after the other, each with its own metadata service:
// the networked ones in a network namespace of the test's own (newNetHost),
// where the service listens too.
func TestPodACEValidator(t *testing.T) {
	pe := newPodEnv(t)
	dir := aceModuleDir(t)
	bin := filepath.Join(pe.base, "ace-validator")
	build := exec.Command("go", "build", "-o", bin, aceModule+"/ace")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the ACE validator (go build %s/ace): %v\n%s", aceModule, err, b)
	}
	validator, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	k := newKey(t)
	var images []string
	for _, flavor := range []string{"main", "sidekick"} {
		in, err := os.ReadFile(filepath.Join(dir, "ace", "image_manifest_"+flavor+".json.in"))
		if err != nil {
			t.Fatalf("reading the validator's %s manifest: %v", flavor, err)
		}
		manifest := strings.NewReplacer("@ACI_OS@", runtime.GOOS, "@ACI_ARCH@", runtime.GOARCH).Replace(string(in))
		aci := storetest.BuildACIWithManifest(t, []byte(manifest),
			storetest.File{Name: "ace-validator", Body: validator, Mode: 0o755},
			storetest.File{Name: "opt", Typeflag: tar.TypeDir},
			storetest.File{Name: "opt/acvalidator", Typeflag: tar.TypeDir},
			storetest.File{Name: "db", Typeflag: tar.TypeDir},
		)
		name := "coreos.com/ace-validator-" + flavor
		pe.trustPrefix(name, k)
		images = append(images, pe.writeSigned("ace-validator-"+flavor+".aci", aci, k.Sign(t, aci)))
	}
	check := func(t *testing.T, out, stderr string, code int) {
		t.Helper()
		if code != 0 {
			t.Errorf("the ACE validator pod exited %d, want 0\nstdout: %s\nstderr: %s", code, out, stderr)
		}
		for _, mode := range []string{"prestart", "main", "sidekick", "poststop"} {
			if !hasLine(out, mode+" OK") {
				t.Errorf("validator %s did not print %q", mode, mode+" OK")
			}
		}
	}
	args := append([]string{"--mds-register", "--volume=database,kind=empty"}, images...)

	t.Run("host", func(t *testing.T) {
		stop := startMetadataService(t, pe, nil, false)
		defer stop()
		out, stderr, code := pe.run(append([]string{"--net=host"}, args...)...)
		check(t, out, stderr, code)
	})
	// As rkt-metadata.socket starts it: systemd listens on the
	// registration socket and starts the service on the first connection.
	t.Run("socket-activated", func(t *testing.T) {
		if _, err := exec.LookPath("systemd-socket-activate"); err != nil {
			t.Skip("systemd-socket-activate (package systemd) is not installed")
		}
		stop := startMetadataService(t, pe, nil, true)
		defer stop()
		out, stderr, code := pe.run(append([]string{"--net=host"}, args...)...)
		check(t, out, stderr, code)
	})
	for _, netName := range []string{"default", "acenet"} {
		t.Run(netName, func(t *testing.T) {
			h := newNetHost(t)
			if netName == "acenet" {
				netd := filepath.Join(pe.localConfig, network.NetDir)
				if err := os.MkdirAll(netd, 0o755); err != nil {
					t.Fatal(err)
				}
				conf := `{"cniVersion":"1.0.0","name":"acenet","type":"bridge","bridge":"rktace0","isGateway":true,
"ipam":{"type":"host-local","subnet":"10.79.0.0/24","dataDir":"` + filepath.Join(pe.base, "ipam") + `"}}`
				if err := os.WriteFile(filepath.Join(netd, "10-acenet.conf"), []byte(conf), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			stop := startMetadataService(t, pe, h, false)
			defer stop()
			out, stderr, code := h.run(pe, append([]string{"--net=" + netName}, args...)...)
			check(t, out, stderr, code)
			h.gc(pe)
		})
	}
}

// aceModuleDir is the module cache directory of the appc spec module.
func aceModuleDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", aceModule).Output()
	if err != nil {
		t.Fatalf("finding %s in the module cache (go list -m): %v", aceModule, err)
	}
	return strings.TrimSpace(string(out))
}

// startMetadataService runs `rkt metadata-service` for the test (in h's
// network namespace when h is not nil) and waits for its registration
// socket; stop ends it. With activated, systemd-socket-activate listens on
// the socket and starts the service on the first connection, as
// rkt-metadata.socket does. A service already listening is an error: the
// pods of this test must reach this one.
func startMetadataService(t *testing.T, pe *podEnv, h *netHost, activated bool) (stop func()) {
	t.Helper()
	if c, err := net.Dial("unix", metadataSocket); err == nil {
		c.Close()
		t.Fatalf("a metadata service already listens on %s", metadataSocket)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := pe.command(ctx, "metadata-service")
	if activated {
		if err := os.MkdirAll(filepath.Dir(metadataSocket), 0o755); err != nil {
			t.Fatal(err)
		}
		os.Remove(metadataSocket) // a stale socket of an earlier service
		t.Cleanup(func() { os.Remove(metadataSocket) })
		sa, err := exec.LookPath("systemd-socket-activate")
		if err != nil {
			t.Fatal(err)
		}
		args := []string{sa, "-l", metadataSocket}
		for _, kv := range cmd.Env {
			args = append(args, "-E", kv)
		}
		cmd.Args = append(append(args, cmd.Path), cmd.Args[1:]...)
		cmd.Path = sa
	}
	if h != nil {
		h.in(cmd)
	}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting rkt metadata-service: %v", err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		cancel()
		t.Logf("rkt metadata-service output:\n%s", out.String())
	}
	t.Cleanup(stop)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("unix", metadataSocket); err == nil {
			c.Close()
			return stop
		}
	}
	t.Fatalf("rkt metadata-service did not listen on %s within 20s:\n%s", metadataSocket, out.String())
	return stop
}
