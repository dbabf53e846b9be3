package tests

import (
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/appc/spec/schema/types"
	"github.com/rkt/rkt/store/storetest"
)

// twoImages fetches .../app1 then, a little later, .../app2.
func twoImages(t *testing.T) (*env, image, image) {
	t.Helper()
	e, _, sign := signedSetup(t)
	im1 := e.newImage("app1")
	im2 := e.newImage("app2")
	e.fetchID(e.writeSigned("app1.aci", im1.aci, sign(im1.aci)))
	time.Sleep(20 * time.Millisecond) // distinct import times
	e.fetchID(e.writeSigned("app2.aci", im2.aci, sign(im2.aci)))
	return e, im1, im2
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

func TestImageList(t *testing.T) {
	t.Parallel()
	e, im1, im2 := twoImages(t)

	// Default table: rkt's columns, one row per image.
	lines := nonEmptyLines(e.ok("image", "list"))
	if len(lines) != 3 {
		t.Fatalf("image list printed %d lines, want a header and 2 images:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, col := range []string{"ID", "NAME", "SIZE", "IMPORT TIME", "LAST USED"} {
		if !strings.Contains(lines[0], col) {
			t.Errorf("header %q lacks %s", lines[0], col)
		}
	}
	if !strings.Contains(lines[1], im1.name) || !strings.Contains(lines[2], im2.name) {
		t.Errorf("rows are not in import order:\n%s", strings.Join(lines, "\n"))
	}
	if strings.Contains(lines[1], im1.id) {
		t.Errorf("without --full the full ID is shown: %s", lines[1])
	}

	// --fields, --full, --no-legend.
	lines = nonEmptyLines(e.ok("image", "list", "--fields=id,name", "--full", "--no-legend"))
	want := []string{im1.id + " " + im1.name, im2.id + " " + im2.name}
	if len(lines) != 2 {
		t.Fatalf("--no-legend printed %q", lines)
	}
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) != 2 || f[0] != strings.Fields(want[i])[0] || !strings.HasPrefix(f[1], strings.Fields(want[i])[1]) {
			t.Errorf("--fields=id,name --full --no-legend line %d = %q, want %q", i, l, want[i])
		}
	}

	// --sort / --order.
	first := func(args ...string) string {
		ls := nonEmptyLines(e.ok(append([]string{"image", "list", "--fields=name", "--no-legend"}, args...)...))
		if len(ls) != 2 {
			t.Fatalf("image list %v printed %q", args, ls)
		}
		return strings.TrimSpace(ls[0])
	}
	if got := first("--sort=importtime", "--order=desc"); !strings.HasPrefix(got, im2.name) {
		t.Errorf("--order=desc lists %s first, want %s", got, im2.name)
	}
	if got := first("--sort=importtime", "--order=asc"); !strings.HasPrefix(got, im1.name) {
		t.Errorf("--order=asc lists %s first, want %s", got, im1.name)
	}
	if got := first("--sort=name", "--order=desc"); !strings.HasPrefix(got, im2.name) {
		t.Errorf("--sort=name --order=desc lists %s first", got)
	}

	// JSON: one line, rkt 1.30's api/v1 keys.
	out := e.ok("image", "list", "--format=json")
	if strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("--format=json is not one line:\n%s", out)
	}
	for _, im := range e.images() {
		for _, k := range []string{"id", "name", "import_time", "last_used_time", "size"} {
			if _, ok := im.Raw[k]; !ok {
				t.Errorf("image list JSON entry lacks %q: %v", k, im.Raw)
			}
		}
		if size, _ := im.Raw["size"].(float64); size < float64(len(im1.aci))/2 {
			t.Errorf("image list JSON size %v is smaller than the image", im.Raw["size"])
		}
	}
	if pretty := e.ok("image", "list", "--format=json-pretty"); strings.Count(pretty, "\n") < 4 {
		t.Errorf("--format=json-pretty is not indented:\n%s", pretty)
	}

	// Bad usage.
	e.fails(254, "image", "list", "--fields=nonsense")
	e.fails(254, "image", "list", "--order=sideways")
}

func TestImageRemove(t *testing.T) {
	t.Parallel()
	e, im1, im2 := twoImages(t)

	// By ID prefix.
	e.ok("image", "rm", im1.id[:len("sha512-")+16])
	e.assertStore(im2.id)

	// By name.
	e.ok("image", "rm", im2.name)
	e.assertStore()

	// Nothing to remove is an error naming the argument.
	_, stderr := e.fails(254, "image", "rm", im2.name)
	assertMentions(t, "rm of a missing image", stderr, im2.name)
	e.fails(254, "image", "rm")
}

func TestImageGC(t *testing.T) {
	t.Parallel()
	e, im1, im2 := twoImages(t)

	// Images imported just now are kept by the default grace period.
	e.ok("image", "gc")
	e.assertStore(im1.id, im2.id)

	e.ok("image", "gc", "--grace-period=0s")
	e.assertStore()
	if trees := e.entries("cas/tree"); len(trees) != 0 {
		t.Errorf("image gc left trees %v", trees)
	}
}

func TestImageCatManifest(t *testing.T) {
	t.Parallel()
	e, im1, _ := twoImages(t)

	check := func(out string) {
		t.Helper()
		var m struct {
			ACKind string `json:"acKind"`
			Name   string `json:"name"`
		}
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("cat-manifest printed %q: %v", out, err)
		}
		if m.ACKind != "ImageManifest" || m.Name != im1.name {
			t.Errorf("cat-manifest shows %+v, want the manifest of %s", m, im1.name)
		}
	}
	pretty := e.ok("image", "cat-manifest", "--pretty-print", im1.id)
	check(pretty)
	if strings.Count(strings.TrimSpace(pretty), "\n") < 3 || !strings.Contains(pretty, "\n  ") {
		t.Errorf("--pretty-print output is not indented:\n%s", pretty)
	}
	compact := e.ok("image", "cat-manifest", "--pretty-print=false", im1.name)
	check(compact)
	if strings.Count(strings.TrimSpace(compact), "\n") != 0 {
		t.Errorf("--pretty-print=false output is not one line:\n%s", compact)
	}
	e.fails(254, "image", "cat-manifest", "sha512-"+strings.Repeat("f", 64))
}

func TestImageExport(t *testing.T) {
	t.Parallel()
	e, im1, _ := twoImages(t)
	out := filepath.Join(e.base, "exported.aci")
	e.ok("image", "export", im1.id, out)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum512(data)
	if id := "sha512-" + hex.EncodeToString(sum[:32]); id != im1.id {
		t.Errorf("exported file hashes to %s, want the image ID %s", id, im1.id)
	}
	assertFileBytes(t, out, im1.aci)

	// An existing file is kept unless --overwrite.
	e.fails(254, "image", "export", im1.id, out)
	e.ok("image", "export", "--overwrite", im1.name, out)
	assertFileBytes(t, out, im1.aci)
	e.fails(254, "image", "export", im1.id)
}

func TestImageExtractAndRender(t *testing.T) {
	t.Parallel()
	e, _, sign := signedSetup(t)
	base := e.newImage("base", fileOf("etc/base", "from base\n"), fileOf("etc/shared", "base version\n"))
	baseHash, err := types.NewHash(base.id)
	if err != nil {
		t.Fatal(err)
	}
	appName := e.name("app")
	manifest := storetest.Manifest(appName, defaultLabels, types.Dependency{
		ImageName: types.ACIdentifier(base.name),
		ImageID:   baseHash,
	})
	appACI := storetest.BuildACIWithManifest(t, manifest, fileOf("etc/app", "from app\n"), fileOf("etc/shared", "app version\n"))
	app := image{name: appName, aci: appACI, id: storetest.ImageID(appACI)}

	e.fetchID(e.writeSigned("base.aci", base.aci, sign(base.aci)))
	e.fetchID(e.writeSigned("app.aci", app.aci, sign(app.aci)))

	read := func(p string) string {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}

	// extract: the image alone.
	ex := filepath.Join(e.base, "extract")
	e.ok("image", "extract", app.id, ex)
	if got := read(filepath.Join(ex, "rootfs/etc/app")); got != "from app\n" {
		t.Errorf("extract: rootfs/etc/app = %q", got)
	}
	if _, err := os.Stat(filepath.Join(ex, "manifest")); err != nil {
		t.Errorf("extract without --rootfs-only has no manifest: %v", err)
	}
	if _, err := os.Stat(filepath.Join(ex, "rootfs/etc/base")); err == nil {
		t.Error("extract applied the dependency; only render should")
	}
	e.fails(254, "image", "extract", app.id, ex)
	exr := filepath.Join(e.base, "extract-rootfs")
	e.ok("image", "extract", "--rootfs-only", app.id, exr)
	if got := read(filepath.Join(exr, "etc/app")); got != "from app\n" {
		t.Errorf("extract --rootfs-only: etc/app = %q", got)
	}
	if _, err := os.Stat(filepath.Join(exr, "manifest")); err == nil {
		t.Error("extract --rootfs-only wrote the manifest")
	}
	e.ok("image", "extract", "--rootfs-only", "--overwrite", app.id, exr)

	// render: dependencies applied, the image's own files win.
	rd := filepath.Join(e.base, "render")
	e.ok("image", "render", "--rootfs-only", app.id, rd)
	for f, want := range map[string]string{"etc/app": "from app\n", "etc/base": "from base\n", "etc/shared": "app version\n"} {
		if got := read(filepath.Join(rd, f)); got != want {
			t.Errorf("render: %s = %q, want %q", f, got, want)
		}
	}
	e.fails(254, "image", "render", "--rootfs-only", app.id, rd)
	e.ok("image", "render", "--rootfs-only", "--overwrite", app.id, rd)
	rdFull := filepath.Join(e.base, "render-full")
	e.ok("image", "render", app.id, rdFull)
	if got := read(filepath.Join(rdFull, "rootfs/etc/base")); got != "from base\n" {
		t.Errorf("render: rootfs/etc/base = %q", got)
	}
}

func TestImageVerify(t *testing.T) {
	t.Parallel()
	e, im, sign := signedSetup(t)
	e.fetchID(e.writeSigned("app.aci", im.aci, sign(im.aci)))
	out := e.ok("image", "verify", im.id)
	t.Logf("verify of a sound tree: %s", out)

	trees := e.entries("cas/tree")
	if len(trees) != 1 {
		t.Fatalf("cas/tree holds %v after fetch and verify, want one rendered tree", trees)
	}
	victim := filepath.Join(e.dataDir, "cas/tree", trees[0], "rootfs/etc/hello")
	want, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(victim, []byte("corrupted\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code := rkt(t, e, "image", "verify", im.id)
	report := strings.ToLower(stdout + stderr)
	if !strings.Contains(report, "corrupt") && !strings.Contains(report, "repair") {
		t.Errorf("image verify of a corrupt tree (exit %d) reports neither corruption nor repair:\n%s%s", code, stdout, stderr)
	}
	// After the repair the tree holds the image's bytes again and verifies.
	var repaired []byte
	for _, tr := range e.entries("cas/tree") {
		if b, err := os.ReadFile(filepath.Join(e.dataDir, "cas/tree", tr, "rootfs/etc/hello")); err == nil {
			repaired = b
		}
	}
	if string(repaired) != string(want) {
		t.Errorf("after image verify, etc/hello holds %q, want %q", repaired, want)
	}
	stdout, stderr, code = rkt(t, e, "image", "verify", im.id)
	if code != 0 || strings.Contains(strings.ToLower(stdout+stderr), "corrupt") {
		t.Errorf("verify after the repair: exit %d:\n%s%s", code, stdout, stderr)
	}
	// Without arguments every image is verified.
	e.ok("image", "verify")
}
