package tests

import (
	"strings"
	"testing"
)

// TestPodFly runs a one-app pod with the fly stage1: the app's output and
// exit code are rkt run's, and gc cleans its mounts away.
func TestPodFly(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.shImage("flyer", `echo "fly-ran as $AC_APP_NAME pid1=$(cat /proc/1/comm) gomaxprocs=${GOMAXPROCS:-none}"; exit 3`)
	out, stderr, code := rkt(t, pe.env, "run", "--stage1-path="+pe.flyPath, img)
	if code != 3 {
		t.Errorf("fly run of an app exiting 3: exit %d, want 3\n%s", code, stderr)
	}
	l := lineOf(out, "fly-ran as flyer")
	if l == "" {
		t.Errorf("fly run: the app's line is missing:\n%s", out)
	}
	// fly shares the host's PID namespace: PID 1 is the host's init, not a
	// pod supervisor.
	if strings.Contains(l, "pid1=supervisor") {
		t.Errorf("fly run: PID 1 is the pod supervisor, want the host's: %q", l)
	}
	// stage0 gives the stage1 entry point GOMAXPROCS=1; the app's
	// environment is the manifest's.
	if !strings.HasSuffix(l, "gomaxprocs=none") {
		t.Errorf("fly run: the stage1's GOMAXPROCS reached the app: %q", l)
	}
	pe.ok("gc", "--grace-period=0s")
	pe.assertClean("after gc of a fly pod")
}

// TestPodFlyByName chooses the fly stage1 from the store by name.
func TestPodFlyByName(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	// Stage1 images are not signed: fetching one into the store needs the
	// image insecure option; choosing it by name afterwards does not.
	pe.ok("fetch", "--insecure-options=image", pe.flyPath)
	img := pe.shImage("flyer", `echo fly-by-name; exit 0`)
	out, stderr, code := rkt(t, pe.env, "run", "--stage1-name=coreos.com/rkt/stage1-fly", img)
	if code != 0 || !hasLine(out, "fly-by-name") {
		t.Errorf("run --stage1-name=coreos.com/rkt/stage1-fly: exit %d, want 0 and the app's line\nstdout: %s\nstderr: %s", code, out, stderr)
	}
}
