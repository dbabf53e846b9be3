package tests

import (
	"archive/tar"
	"fmt"
	"strings"
	"testing"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
	"github.com/rkt/rkt/store/storetest"
)

// TestPodDockerImplicitVolume: an image converted from Docker (annotation
// appc.io/docker/repository) whose mount point no volume covers gets an
// implicit empty volume that starts as a copy of the image's directory
// there, with its mode and owner, as Docker's volumes and rkt 1.30 did.
// The app's writes go to the volume, not the image; an image without the
// annotation, or a volume the user declares, starts empty.
func TestPodDockerImplicitVolume(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	script := `
echo "seed=$(cat /var/data/seed 2>/dev/null || echo none)"
echo "sub=$(cat /var/data/sub/deep 2>/dev/null || echo none)"
echo "dir=$(stat -c '%a %u %g' /var/data)"
echo "mounted=$(grep -c ' /var/data ' /proc/self/mounts)"
`
	files := []storetest.File{
		{Name: "var", Typeflag: tar.TypeDir},
		{Name: "var/data", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 1000, Gid: 1100},
		{Name: "var/data/seed", Body: []byte("from-image\n"), Uid: 1000, Gid: 1100},
		{Name: "var/data/sub", Typeflag: tar.TypeDir},
		{Name: "var/data/sub/deep", Body: []byte("deep-file\n")},
	}
	mountPoint := func(docker bool) func(*schema.ImageManifest) {
		return func(im *schema.ImageManifest) {
			im.App.MountPoints = []types.MountPoint{{Name: "data", Path: "/var/data"}}
			if docker {
				im.Annotations.Set("appc.io/docker/repository", "registry-1.docker.io/library/app")
			}
		}
	}
	docker := pe.busyboxImage("docker", []string{"/bin/sh", "-c", script}, mountPoint(true), files...)
	plain := pe.busyboxImage("plain", []string{"/bin/sh", "-c", script}, mountPoint(false), files...)

	out := pe.runOK(docker)
	for _, want := range []string{"seed=from-image", "sub=deep-file", "dir=750 1000 1100", "mounted=1"} {
		if !hasLine(out, want) {
			t.Errorf("docker image, implicit volume: want %q in the app's output:\n%s", want, out)
		}
	}

	out = pe.runOK(plain)
	for _, want := range []string{"seed=none", "sub=none", "dir=755 0 0", "mounted=1"} {
		if !hasLine(out, want) {
			t.Errorf("image not from docker, implicit volume: want %q in the app's output:\n%s", want, out)
		}
	}

	out = pe.runOK("--volume=data,kind=empty,mode=0700", docker)
	for _, want := range []string{"seed=none", "dir=700 0 0"} {
		if !hasLine(out, want) {
			t.Errorf("docker image, declared empty volume: want %q in the app's output:\n%s", want, out)
		}
	}
	if strings.Contains(out, "from-image") {
		t.Errorf("a declared empty volume was filled from the image:\n%s", out)
	}

	// A --pod-manifest that covers the mount point with nothing: as in
	// rkt 1.30, the app gets an implicit volume, filled for the docker image.
	for _, c := range []struct {
		img  string
		want []string
	}{
		{docker, []string{"seed=from-image", "sub=deep-file", "dir=750 1000 1100", "mounted=1"}},
		{plain, []string{"seed=none", "dir=755 0 0", "mounted=1"}},
	} {
		id := pe.fetchID("--full", c.img)
		pm := fmt.Sprintf(`{"acKind":"PodManifest","acVersion":"0.8.11","apps":[{"name":"app","image":{"id":%q}}]}`, id)
		out = pe.runOK("--net=none", "--pod-manifest="+pe.write("pod.json", []byte(pm)))
		for _, want := range c.want {
			if !hasLine(out, want) {
				t.Errorf("--pod-manifest of %s, no volume for the mount point: want %q in the app's output:\n%s", c.img, want, out)
			}
		}
	}
}
