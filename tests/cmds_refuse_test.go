package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRefuseBeforePod: a --net naming no network, and a fly pod of two
// apps, are refused with exit 254 before a pod directory exists; a
// prepared pod given such a --net by run-prepared stays prepared.
func TestRefuseBeforePod(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.shImage("app", `echo should-not-run`)
	other := pe.shImage("other", `echo should-not-run`)

	out, stderr, code := pe.run("--net=bogus", img)
	if code != 254 {
		t.Errorf("run --net=bogus: exit %d, want 254", code)
	}
	assertMentions(t, "run --net=bogus", stderr, "bogus")
	if strings.Contains(out, "should-not-run") {
		t.Error("run --net=bogus ran the app")
	}
	if ds := pe.podDirs(); len(ds) != 0 {
		t.Errorf("run --net=bogus left pods behind: %v", ds)
	}

	_, stderr, code = rkt(t, pe.env, "run", "--stage1-path="+pe.flyPath, img, other)
	if code != 254 {
		t.Errorf("fly run of two apps: exit %d, want 254", code)
	}
	assertMentions(t, "fly run of two apps", stderr, "exactly one app")
	if ds := pe.podDirs(); len(ds) != 0 {
		t.Errorf("fly run of two apps left pods behind: %v", ds)
	}
	_, stderr, code = rkt(t, pe.env, "prepare", "--stage1-path="+pe.flyPath, img, other)
	if code != 254 {
		t.Errorf("fly prepare of two apps: exit %d, want 254", code)
	}
	if ds := pe.podDirs(); len(ds) != 0 {
		t.Errorf("fly prepare of two apps left pods behind: %v", ds)
	}

	uuid := pe.prepare(img)
	_, stderr, code = rkt(t, pe.env, "run-prepared", "--net=bogus", uuid)
	if code != 254 {
		t.Errorf("run-prepared --net=bogus: exit %d, want 254", code)
	}
	assertMentions(t, "run-prepared --net=bogus", stderr, "bogus")
	if _, err := os.Stat(filepath.Join(pe.dataDir, "pods", "prepared", uuid)); err != nil {
		t.Errorf("run-prepared --net=bogus: the pod is no longer prepared: %v", err)
	}
}

// TestVolumeBadOwnerOrMode: an empty volume with a negative or too large
// uid or gid, or a mode that is not octal permission bits, is bad usage.
func TestVolumeBadOwnerOrMode(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.shImage("app", `echo should-not-run`)
	for _, v := range []string{"v,kind=empty,uid=-5", "v,kind=empty,gid=-2", "v,kind=empty,uid=4294967295", "v,kind=empty,mode=0999"} {
		out, stderr, code := pe.run("--net=none", "--volume="+v, img, "--mount=volume=v,target=/v")
		if code != 254 {
			t.Errorf("run --volume=%s: exit %d, want 254", v, code)
		}
		assertMentions(t, "run --volume="+v, stderr, "invalid volume")
		if strings.Contains(out, "should-not-run") {
			t.Errorf("run --volume=%s ran the app", v)
		}
	}
	if ds := pe.podDirs(); len(ds) != 0 {
		t.Errorf("refused volumes left pods behind: %v", ds)
	}
}
