package tests

import (
	"strings"
	"testing"
)

// TestImageRemoveDuplicates: an image named twice, by the same argument or
// by two prefixes of its ID, is removed once and is no failure.
func TestImageRemoveDuplicates(t *testing.T) {
	t.Parallel()
	e, im1, im2 := twoImages(t)
	_, stderr := e.fails(0, "image", "rm", im1.id, im1.id, im1.id[:len("sha512-")+12], im1.id[:len("sha512-")+20])
	if strings.Contains(stderr, "failed") {
		t.Errorf("image rm of one image named four ways reports a failure:\n%s", stderr)
	}
	if n := strings.Count(stderr, "successfully removed aci for image"); n != 1 {
		t.Errorf("image rm of one image named four ways: %d success lines, want 1:\n%s", n, stderr)
	}
	e.assertStore(im2.id)

	// A real failure beside a duplicate still counts each image once.
	_, stderr = e.fails(254, "image", "rm", im2.id, im2.name, "example.com/no-such-image")
	assertMentions(t, "image rm with one missing image", stderr, "(1 of 2 failed)", "no-such-image")
	e.assertStore()
}

// TestImageRemoveKeepsPodTrees: removing the images of a prepared pod
// keeps the rendered trees it uses, so that it still runs and is
// collected; image gc removes the trees once the pod is gone.
func TestImageRemoveKeepsPodTrees(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.shImage("app", `echo still-runs`)
	uuid := pe.prepare(img)
	// A second pod that stays prepared until the end.
	other := pe.prepare(img)
	trees := pe.entries("cas/tree")
	if len(trees) < 2 {
		t.Fatalf("after prepare, cas/tree holds %v, want the stage1 and app trees", trees)
	}
	var ids []string
	for _, im := range pe.images() {
		ids = append(ids, im.ID)
	}
	pe.ok(append([]string{"image", "rm"}, ids...)...)
	if left := pe.imageIDs(); len(left) != 0 {
		t.Errorf("image rm of every image left %v", left)
	}

	out, stderr, code := rkt(t, pe.env, "run-prepared", "--net=none", uuid)
	if code != 0 || !hasLine(out, "still-runs") {
		t.Errorf("run-prepared after image rm: exit %d, want 0 and the app's line\nstdout: %s\nstderr: %s", code, out, stderr)
	}
	pe.ok("gc", "--grace-period=0s")
	if exists(pe.podDir(uuid)) {
		t.Errorf("gc left the exited pod %s", uuid)
	}
	// The prepared pod still holds its trees: image gc keeps them.
	pe.ok("image", "gc", "--grace-period=0s")
	if got := pe.entries("cas/tree"); len(got) < 2 {
		t.Errorf("image gc with a prepared pod left cas/tree %v, want its trees kept", got)
	}
	pe.ok("rm", other)
	pe.ok("image", "gc", "--grace-period=0s")
	if got := pe.entries("cas/tree"); len(got) != 0 {
		t.Errorf("image gc with no pod left cas/tree %v, want it empty", got)
	}
}
