package tests

import (
	"fmt"
	"testing"
)

// TestPodHundredRunsLeaveNothing runs 100 pods in a row, garbage-collecting
// as it goes: afterwards no mount, process or pod directory is left.
func TestPodHundredRunsLeaveNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping 100 pods in -short mode")
	}
	pe := newPodEnv(t)
	img := pe.busyboxImage("true", []string{"/bin/true"}, nil)
	// Fetch once, so that the loop measures pods, not image imports.
	pe.ok("fetch", img)
	name := pe.name("true")
	for i := range 100 {
		if _, stderr, code := rkt(t, pe.env, pe.withStage1("run", []string{name})...); code != 0 {
			t.Fatalf("pod %d: rkt run exited %d\n%s", i, code, stderr)
		}
		if i%10 == 9 {
			pe.ok("gc", "--grace-period=0s")
			if ds := pe.podDirs(); len(ds) != 0 {
				t.Fatalf("after pod %d and gc, pod dirs remain: %v", i, ds)
			}
		}
	}
	pe.assertClean(fmt.Sprintf("after %d pods and gc", 100))
}
