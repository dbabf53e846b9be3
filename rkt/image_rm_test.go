package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rkt/rkt/store/storetest"
)

func TestImageRmDeduplicates(t *testing.T) {
	e := newStoreEnv(t)
	id := e.fetchACI(t, storetest.BuildACI(t, "example.com/app", testLabels))
	r := e.rkt(t, "", "image", "rm", id, id[:20], id[:30], "example.com/app:1.0")
	if r.code != 0 || strings.Count(r.stderr, "successfully removed aci for image") != 1 || strings.Contains(r.stderr, "failed") {
		t.Errorf("rm of one image named four ways: rc %d, stderr %q", r.code, r.stderr)
	}
	id2 := e.fetchACI(t, storetest.BuildACI(t, "example.com/app", testLabels))
	r = e.rkt(t, "", "image", "rm", id2, id2, "example.com/nothing")
	if r.code != 254 || !strings.Contains(r.stderr, "(1 of 2 failed)") {
		t.Errorf("rm of one image twice and a missing one: rc %d, stderr %q", r.code, r.stderr)
	}
}

func TestImageExtractOverwriteRefusesDataDir(t *testing.T) {
	e := newStoreEnv(t)
	id := e.fetchACI(t, storetest.BuildACI(t, "example.com/app", testLabels))
	// System directories ("/", "/usr") are checked by stage0/rmguard's own
	// tests and, in a read-only mount namespace, by the functional tests:
	// never ask this process, which runs as root on the real root, to
	// overwrite them.
	for _, dir := range []string{e.dir, filepath.Dir(e.dir), e.local} {
		r := e.rkt(t, "", "image", "extract", "--overwrite", "--rootfs-only", id, dir)
		if r.code != 254 || !strings.Contains(r.stderr, "protected") {
			t.Errorf("extract --overwrite %s: rc %d, stderr %q", dir, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(e.dir, "cas")); err != nil {
		t.Errorf("the data dir lost its store: %v", err)
	}
}
