package tests

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// aciEntries reads an uncompressed ACI: entry name -> content (regular
// files) or "" (other entries).
func aciEntries(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading %s as a tar: %v", path, err)
		}
		body, _ := io.ReadAll(tr)
		out[strings.TrimSuffix(h.Name, "/")] = string(body)
	}
}

// TestExportExitedPod: the exported ACI holds the files the app wrote and
// lacks those it removed, for an overlay pod of each flavor and a copied
// one; it fetches as an image; rkt's refusals hold.
func TestExportExitedPod(t *testing.T) {
	pe := newPodEnv(t)
	img := pe.shImage("writer", "echo written-in-pod > /exported-file; rm /etc/group; exit 0")
	cases := []struct {
		name  string
		flags []string
	}{
		{"nspawn-overlay", nil},
		{"nspawn-copy", []string{"--no-overlay"}},
		{"fly-overlay", []string{"--stage1-path=" + pe.flyPath}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			uuid, _, stderr, code := pe.runSaved(append(c.flags, img)...)
			if code != 0 {
				t.Fatalf("rkt run: exit %d\n%s", code, stderr)
			}
			out := filepath.Join(pe.base, c.name+".aci")
			pe.ok("export", uuid, out)
			ents := aciEntries(t, out)
			if got := ents["rootfs/exported-file"]; got != "written-in-pod\n" {
				t.Errorf("rootfs/exported-file = %q, want the line the app wrote", got)
			}
			if _, ok := ents["rootfs/etc/group"]; ok {
				t.Error("rootfs/etc/group, removed by the app, is in the export")
			}
			if _, ok := ents["rootfs/bin/busybox"]; !ok {
				t.Error("the image's own files are missing from the export")
			}
			if !strings.Contains(ents["manifest"], pe.name("writer")) {
				t.Errorf("manifest %q does not name the image", ents["manifest"])
			}
			_, stderr = pe.fails(254, "export", uuid, out)
			if !strings.Contains(stderr, "already exists") {
				t.Errorf("export onto an existing file: %s", stderr)
			}
			pe.ok("export", "--overwrite", uuid, out)
			id := strings.TrimSpace(pe.ok("fetch", "--insecure-options=image", "--full", out))
			if !strings.HasPrefix(id, "sha512-") {
				t.Errorf("fetching the export printed %q", id)
			}
		})
	}

	prepared := pe.prepare(img)
	_, stderr := pe.fails(254, "export", prepared, filepath.Join(pe.base, "prepared.aci"))
	if !strings.Contains(stderr, "pod is not exited. Only exited pods can be exported") {
		t.Errorf("export of a prepared pod: %s", stderr)
	}
	if _, err := os.Lstat(filepath.Join(pe.base, "prepared.aci")); err == nil {
		t.Error("a refused export left its output file")
	}
	pe.ok("rm", prepared)

	two, _, stderr, code := pe.runSaved(img, pe.shImage("other", "exit 0"))
	if code != 0 {
		t.Fatalf("rkt run of two apps: exit %d\n%s", code, stderr)
	}
	_, stderr = pe.fails(254, "export", two, filepath.Join(pe.base, "two.aci"))
	if !strings.Contains(stderr, "--app") {
		t.Errorf("export of a two-app pod without --app: %s", stderr)
	}
	pe.ok("export", "--app=writer", two, filepath.Join(pe.base, "two.aci"))
	if got := aciEntries(t, filepath.Join(pe.base, "two.aci"))["rootfs/exported-file"]; got != "written-in-pod\n" {
		t.Errorf("--app=writer: rootfs/exported-file = %q", got)
	}
}

// TestImageGCKeepsPodImages: `image gc --grace-period=0s` keeps the images
// and trees of a prepared pod, which then still runs; once the pod is
// removed they are collected.
func TestImageGCKeepsPodImages(t *testing.T) {
	pe := newPodEnv(t)
	img := pe.shImage("kept", "echo still-runs")
	uuid := pe.prepare(img)
	treesOf := func() []string {
		var ids []string
		for _, f := range []string{"stage1TreeStoreID", "appsinfo/kept/treeStoreID"} {
			b, err := os.ReadFile(filepath.Join(pe.podDir(uuid), f))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, strings.TrimSpace(string(b)))
		}
		return ids
	}
	trees := treesOf()
	imagesBefore := pe.ok("image", "list", "--no-legend", "--full", "--fields=id")

	pe.ok("image", "gc", "--grace-period=0s")
	if got := pe.ok("image", "list", "--no-legend", "--full", "--fields=id"); got != imagesBefore {
		t.Errorf("image gc removed images of a prepared pod:\nbefore:\n%s\nafter:\n%s", imagesBefore, got)
	}
	for _, id := range trees {
		if !exists(filepath.Join(pe.dataDir, "cas", "tree", id, "rootfs")) {
			t.Errorf("image gc removed tree %s of a prepared pod", id)
		}
	}
	out, stderr, code := rkt(t, pe.env, "run-prepared", uuid)
	if code != 0 || !strings.Contains(out, "still-runs") {
		t.Fatalf("run-prepared after image gc: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}

	pe.ok("rm", uuid)
	pe.ok("image", "gc", "--grace-period=0s")
	if got := strings.TrimSpace(pe.ok("image", "list", "--no-legend", "--full", "--fields=id")); got != "" {
		t.Errorf("after rm, image gc left images:\n%s", got)
	}
	for _, id := range trees {
		if exists(filepath.Join(pe.dataDir, "cas", "tree", id)) {
			t.Errorf("after rm, image gc left tree %s", id)
		}
	}
}
