package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/appc/spec/schema/types"
	"github.com/rkt/rkt/stage0/trust/trusttest"
	"github.com/rkt/rkt/store/storetest"
)

var testLabels = map[string]string{"version": "1.0", "os": "linux", "arch": "amd64"}

// storeEnv is an env with a trusted prefix key and a helper to fetch signed
// images built in the test.
type storeEnv struct {
	env
	key *trusttest.Key
}

func newStoreEnv(t *testing.T) storeEnv {
	t.Helper()
	e := newEnv(t)
	k := trusttest.NewKey(t, "Signer <signer@example.com>")
	trusttest.WriteKeyring(t, e.local, "example.com", k)
	return storeEnv{e, k}
}

// fetchACI writes aci and its signature to files and fetches it; it returns
// the full image ID.
func (e storeEnv) fetchACI(t *testing.T, aci []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.aci")
	if err := os.WriteFile(p, aci, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p+".asc", e.key.Sign(t, aci), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.rkt(t, "", "fetch", "--full", p)
	if r.code != 0 {
		t.Fatalf("fetch: rc %d: %s", r.code, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	if want := storetest.ImageID(aci); id != want {
		t.Fatalf("fetch --full printed %q, want %s", r.stdout, want)
	}
	return id
}

func TestFetchPrintsIDs(t *testing.T) {
	e := newStoreEnv(t)
	a := storetest.BuildACI(t, "example.com/a", testLabels, storetest.File{Name: "etc/a", Body: []byte("a\n")})
	b := storetest.BuildACI(t, "example.com/b", testLabels, storetest.File{Name: "etc/b", Body: []byte("b\n")})
	dir := t.TempDir()
	pa, pb := filepath.Join(dir, "a.aci"), filepath.Join(dir, "b.aci")
	os.WriteFile(pa, a, 0o644)
	os.WriteFile(pb, b, 0o644)
	sigB := filepath.Join(dir, "b.sig")
	os.WriteFile(pa+".asc", e.key.Sign(t, a), 0o644)
	os.WriteFile(sigB, e.key.Sign(t, b), 0o644)

	// One short ID per image; the second uses the second --signature...
	// which needs a first one: give a's explicitly too.
	r := e.rkt(t, "", "fetch", "--signature", pa+".asc", "--signature", sigB, pa, pb)
	if r.code != 0 {
		t.Fatalf("rc %d: %s", r.code, r.stderr)
	}
	want := storetest.ImageID(a)[:len("sha512-")+32] + "\n" + storetest.ImageID(b)[:len("sha512-")+32] + "\n"
	if r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	if n := strings.Count(r.stderr, "image: signature verified:\n  Signer <signer@example.com>\n"); n != 2 {
		t.Errorf("stderr %q: want the signer reported for both images", r.stderr)
	}

	// Unsigned: refused with 254, nothing on stdout.
	c := storetest.BuildACI(t, "example.com/c", testLabels)
	pc := filepath.Join(dir, "c.aci")
	os.WriteFile(pc, c, 0o644)
	r = e.rkt(t, "", "fetch", pc)
	if r.code != 254 || r.stdout != "" || !strings.HasPrefix(r.stderr, "fetch: ") {
		t.Errorf("unsigned fetch: rc %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	r = e.rkt(t, "", "--insecure-options=image", "fetch", pc)
	if r.code != 0 || !strings.HasPrefix(r.stderr, "image: warning: signature verification has been disabled") {
		t.Errorf("unsigned fetch with --insecure-options=image: rc %d, stderr %q", r.code, r.stderr)
	}

	for _, args := range [][]string{
		{"fetch"},
		{"fetch", "--pull-policy=sometimes", pa},
		{"fetch", "--signature", "x", "--signature", "y", pa},
		{"image", "fetch"},
	} {
		if r := e.rkt(t, "", args...); r.code != 254 {
			t.Errorf("%q: rc %d, want 254 (stderr %q)", args, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(e.dir, "cas")); err != nil {
		t.Errorf("the store was not created by the fetches: %v", err)
	}

	// The hidden alias works like fetch.
	r = e.rkt(t, "", "image", "fetch", "--pull-policy=never", storetest.ImageID(a))
	if r.code != 0 || r.stdout != storetest.ImageID(a)[:len("sha512-")+32]+"\n" {
		t.Errorf("image fetch of a stored ID: rc %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestImageListFromStore(t *testing.T) {
	e := newStoreEnv(t)
	r := e.rkt(t, "", "image", "list", "--format=json")
	if r.code != 0 || r.stdout != "[]\n" {
		t.Fatalf("empty store: rc %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	id1 := e.fetchACI(t, storetest.BuildACI(t, "example.com/one", testLabels))
	time.Sleep(10 * time.Millisecond)
	id2 := e.fetchACI(t, storetest.BuildACI(t, "example.com/two", map[string]string{"os": "linux"}))

	r = e.rkt(t, "", "image", "list", "--format=json")
	var entries []rkt130ImageListEntry
	decodeStrict(t, r.stdout, &entries)
	if len(entries) != 2 || entries[0].ID != id1 || entries[1].ID != id2 {
		t.Fatalf("entries %+v, want %s then %s", entries, id1, id2)
	}
	if entries[0].Name != "example.com/one:1.0" || entries[1].Name != "example.com/two" {
		t.Errorf("names %q, %q: want name:version, and the bare name without a version", entries[0].Name, entries[1].Name)
	}
	if entries[0].Size <= 0 || time.Since(time.Unix(0, entries[0].ImportTime)) > time.Minute || entries[0].LastUsedTime < entries[0].ImportTime {
		t.Errorf("entry %+v: want a size and a recent import time", entries[0])
	}

	r = e.rkt(t, "", "image", "list", "--no-legend", "--fields=id,name", "--order=desc")
	want := shortID(id2) + "\texample.com/two\n" + shortID(id1) + "\texample.com/one:1.0\n"
	if r.stdout != want {
		t.Errorf("table %q, want %q", r.stdout, want)
	}
}

func TestImageCommands(t *testing.T) {
	e := newStoreEnv(t)
	base := storetest.BuildACI(t, "example.com/base", testLabels,
		storetest.File{Name: "etc/base", Body: []byte("base\n")},
		storetest.File{Name: "etc/shared", Body: []byte("from base\n")})
	baseID := e.fetchACI(t, base)
	h, err := types.NewHash(baseID)
	if err != nil {
		t.Fatal(err)
	}
	app := storetest.BuildACIWithManifest(t,
		storetest.Manifest("example.com/app", testLabels, types.Dependency{ImageName: "example.com/base", ImageID: h}),
		storetest.File{Name: "etc/app", Body: []byte("app\n")},
		storetest.File{Name: "etc/shared", Body: []byte("from app\n")})
	appID := e.fetchACI(t, app)
	out := t.TempDir()

	t.Run("cat-manifest", func(t *testing.T) {
		r := e.rkt(t, "", "image", "cat-manifest", "--pretty-print=false", "example.com/app:1.0")
		var m struct{ Name string }
		if r.code != 0 || strings.Count(r.stdout, "\n") != 1 || json.Unmarshal([]byte(r.stdout), &m) != nil || m.Name != "example.com/app" {
			t.Errorf("rc %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		r = e.rkt(t, "", "image", "cat-manifest", appID[:20])
		if r.code != 0 || !strings.Contains(r.stdout, "\n  \"") {
			t.Errorf("pretty by short ID: rc %d, stdout %q", r.code, r.stdout)
		}
		r = e.rkt(t, "", "image", "cat-manifest", "example.com/nothing")
		if r.code != 254 || !strings.HasPrefix(r.stderr, "image cat-manifest: ") {
			t.Errorf("missing image: rc %d, stderr %q", r.code, r.stderr)
		}
	})

	t.Run("export", func(t *testing.T) {
		p := filepath.Join(out, "app.aci")
		if r := e.rkt(t, "", "image", "export", appID, p); r.code != 0 {
			t.Fatalf("rc %d: %s", r.code, r.stderr)
		}
		got, err := os.ReadFile(p)
		if err != nil || storetest.ImageID(got) != appID {
			t.Errorf("exported file: %v; hashes to %s, want %s", err, storetest.ImageID(got), appID)
		}
		if r := e.rkt(t, "", "image", "export", appID, p); r.code != 254 || !strings.Contains(r.stderr, "--overwrite") {
			t.Errorf("existing output: rc %d, stderr %q", r.code, r.stderr)
		}
		if r := e.rkt(t, "", "image", "export", "--overwrite", "example.com/base", p); r.code != 0 {
			t.Errorf("--overwrite: rc %d: %s", r.code, r.stderr)
		}
		if got, _ := os.ReadFile(p); storetest.ImageID(got) != baseID {
			t.Errorf("--overwrite did not replace the file")
		}
	})

	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}

	t.Run("extract", func(t *testing.T) {
		d := filepath.Join(out, "extract")
		if r := e.rkt(t, "", "image", "extract", appID, d); r.code != 0 {
			t.Fatalf("rc %d: %s", r.code, r.stderr)
		}
		if read(filepath.Join(d, "rootfs/etc/app")) != "app\n" || read(filepath.Join(d, "rootfs/etc/shared")) != "from app\n" {
			t.Errorf("extracted files wrong")
		}
		if _, err := os.Stat(filepath.Join(d, "manifest")); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(filepath.Join(d, "rootfs/etc/base")); err == nil {
			t.Error("extract applied the dependency")
		}
		if r := e.rkt(t, "", "image", "extract", appID, d); r.code != 254 {
			t.Errorf("existing dir: rc %d", r.code)
		}
		if r := e.rkt(t, "", "image", "extract", "--rootfs-only", "--overwrite", appID, d); r.code != 0 {
			t.Fatalf("--rootfs-only --overwrite: rc %d: %s", r.code, r.stderr)
		}
		if read(filepath.Join(d, "etc/app")) != "app\n" {
			t.Errorf("--rootfs-only: etc/app = %q", read(filepath.Join(d, "etc/app")))
		}
		if _, err := os.Stat(filepath.Join(d, "manifest")); err == nil {
			t.Error("--rootfs-only --overwrite left the old manifest")
		}
	})

	t.Run("render", func(t *testing.T) {
		d := filepath.Join(out, "render")
		if r := e.rkt(t, "", "image", "render", appID, d); r.code != 0 {
			t.Fatalf("rc %d: %s", r.code, r.stderr)
		}
		for f, want := range map[string]string{"rootfs/etc/app": "app\n", "rootfs/etc/base": "base\n", "rootfs/etc/shared": "from app\n"} {
			if got := read(filepath.Join(d, f)); got != want {
				t.Errorf("%s = %q, want %q", f, got, want)
			}
		}
		if !strings.Contains(read(filepath.Join(d, "manifest")), "example.com/app") {
			t.Error("render wrote no manifest of the image")
		}
		entries, _ := os.ReadDir(out)
		for _, en := range entries {
			if strings.HasPrefix(en.Name(), ".tmp-") {
				t.Errorf("temp dir %s left behind", en.Name())
			}
		}
	})

	t.Run("verify", func(t *testing.T) {
		r := e.rkt(t, "", "image", "verify")
		if r.code != 0 || strings.Count(r.stdout, ": ok\n") != 2 {
			t.Fatalf("rc %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		trees, _ := filepath.Glob(filepath.Join(e.dir, "cas/tree/*/rootfs/etc/app"))
		if len(trees) != 1 {
			t.Fatalf("trees with etc/app: %v", trees)
		}
		os.WriteFile(trees[0], []byte("tampered\n"), 0o644)
		r = e.rkt(t, "", "image", "verify", "example.com/app")
		if r.code != 0 || !strings.Contains(r.stdout, appID+" example.com/app: corrupt, repaired") {
			t.Fatalf("corrupt tree: rc %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		trees, _ = filepath.Glob(filepath.Join(e.dir, "cas/tree/*/rootfs/etc/app"))
		if len(trees) != 1 || read(trees[0]) != "app\n" {
			t.Errorf("after repair: %v %q", trees, read(trees[0]))
		}
	})

	t.Run("rm and gc", func(t *testing.T) {
		r := e.rkt(t, "", "image", "rm", "example.com/app", "example.com/nothing")
		if r.code != 254 || !strings.Contains(r.stderr, `"example.com/nothing"`) || !strings.Contains(r.stderr, appID) {
			t.Errorf("rm: rc %d, stderr %q; want the removal and the failure reported", r.code, r.stderr)
		}
		if r := e.rkt(t, "", "image", "gc"); r.code != 0 || strings.Contains(r.stderr, baseID) {
			t.Errorf("gc within the grace period: rc %d, stderr %q", r.code, r.stderr)
		}
		if r := e.rkt(t, "", "image", "gc", "--grace-period=0s"); r.code != 0 || !strings.Contains(r.stderr, baseID) {
			t.Errorf("gc: rc %d, stderr %q", r.code, r.stderr)
		}
		if r := e.rkt(t, "", "image", "list", "--format=json"); r.stdout != "[]\n" {
			t.Errorf("after rm and gc: %q", r.stdout)
		}
	})
}
