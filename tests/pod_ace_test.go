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
// empty volume: prestart, main, sidekick and poststop must all pass.
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
	startMetadataService(t, pe)

	out, stderr, code := pe.run(append([]string{"--net=host", "--mds-register", "--volume=database,kind=empty"}, images...)...)
	if code != 0 {
		t.Errorf("the ACE validator pod exited %d, want 0\nstdout: %s\nstderr: %s", code, out, stderr)
	}
	for _, mode := range []string{"prestart", "main", "sidekick", "poststop"} {
		if !hasLine(out, mode+" OK") {
			t.Errorf("validator %s did not print %q", mode, mode+" OK")
		}
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

// startMetadataService runs `rkt metadata-service` for the test and waits
// for its registration socket.
func startMetadataService(t *testing.T, pe *podEnv) {
	t.Helper()
	if c, err := net.Dial("unix", metadataSocket); err == nil {
		c.Close()
		t.Logf("a metadata service already listens on %s: using it", metadataSocket)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := pe.command(ctx, "metadata-service")
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting rkt metadata-service: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		t.Logf("rkt metadata-service output:\n%s", out.String())
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("unix", metadataSocket); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("rkt metadata-service did not listen on %s within 20s:\n%s", metadataSocket, out.String())
}
