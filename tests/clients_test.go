package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNomadPrepareShape: Nomad's rkt driver prepares a pod with --volume and
// --mount before the image (`rkt prepare --volume=alloc,kind=host,source=DIR
// --mount=volume=alloc,target=/alloc IMAGE --exec=... -- ARGS`), then runs
// it with run-prepared, which takes the network flags. rkt 1.30 mounted such a --mount into every app.
func TestNomadPrepareShape(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	alloc := filepath.Join(pe.base, "alloc")
	if err := os.MkdirAll(alloc, 0o755); err != nil {
		t.Fatal(err)
	}
	img := pe.shImage("task", "echo from-the-task > /alloc/out")
	uuid := pe.prepare(
		"--volume=alloc,kind=host,source="+alloc,
		"--mount=volume=alloc,target=/alloc",
		img)
	if out, stderr, code := rkt(t, pe.env, "run-prepared", "--net=none", uuid); code != 0 {
		t.Fatalf("run-prepared: exit %d\n%s\n%s", code, out, stderr)
	}
	b, err := os.ReadFile(filepath.Join(alloc, "out"))
	if err != nil || strings.TrimSpace(string(b)) != "from-the-task" {
		t.Errorf("the app wrote %q (%v) into the alloc volume, want from-the-task", b, err)
	}
}
