package store

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/appc/spec/schema/types"
	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/common/tarsafe"
	"github.com/rkt/rkt/store/storetest"
	"github.com/rkt/rkt/store/tree"
)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// ingest streams aci in small writes, as a download would.
func ingest(s *Store, aci []byte, meta ImportMeta) (string, error) {
	in, err := s.NewIngest()
	if err != nil {
		return "", err
	}
	defer in.Abort()
	if _, err := io.CopyBuffer(in, bytes.NewReader(aci), make([]byte, 4096)); err != nil {
		return "", err
	}
	if _, err := in.Finish(); err != nil {
		return "", err
	}
	return in.Commit(meta)
}

func mustIngest(t *testing.T, s *Store, aci []byte, meta ImportMeta) string {
	t.Helper()
	key, err := ingest(s, aci, meta)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// assertEmpty checks that the store shows and holds nothing.
func assertEmpty(t *testing.T, s *Store) {
	t.Helper()
	if imgs, _ := s.Images(); len(imgs) != 0 {
		t.Errorf("index rows left: %v", imgs)
	}
	if ks := s.cas.BlobKeys(); len(ks) != 0 {
		t.Errorf("blobs left: %v", ks)
	}
	if ks := s.cas.ManifestKeys(); len(ks) != 0 {
		t.Errorf("manifests left: %v", ks)
	}
	if ids, _ := s.trees.IDs(); len(ids) != 0 {
		t.Errorf("trees left: %v", ids)
	}
	assertTmpEmpty(t, s.dir)
}

func assertTmpEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	for _, e := range ents {
		t.Errorf("temp file left: tmp/%s", e.Name())
	}
}

func TestIngestCommitLookup(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	aci := storetest.BuildACI(t, "example.com/app", map[string]string{"version": "1.0", "os": "linux"},
		storetest.File{Name: "bin/app", Body: []byte("app"), Mode: 0o755})
	in, err := s.NewIngest()
	if err != nil {
		t.Fatal(err)
	}
	in.Write(aci)
	p, err := in.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if p.Key != storetest.ImageID(aci) || p.Size != int64(len(aci)) || p.Manifest.Name != "example.com/app" {
		t.Fatalf("pending %+v", p)
	}
	if _, err := os.Stat(filepath.Join(dir, "cas", "blob", "sha512", p.Key[7:9], p.Key)); err == nil {
		t.Fatalf("blob visible before Commit")
	}
	if _, err := s.Image(p.Key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("row visible before Commit: %v", err)
	}
	key, err := in.Commit(ImportMeta{})
	if err != nil {
		t.Fatal(err)
	}
	in.Abort() // no-op after Commit
	assertTmpEmpty(t, dir)
	img, err := s.Image(key)
	if err != nil || img.Name != "example.com/app" || img.Labels["version"] != "1.0" || img.Size != int64(len(aci)) {
		t.Fatalf("row %+v %v", img, err)
	}
	rc, err := s.OpenBlob(key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(b, aci) {
		t.Fatal("blob differs from the ingested tar")
	}
	id := tree.ID(key)
	if got, err := os.ReadFile(filepath.Join(s.TreePath(id), "rootfs/bin/app")); err != nil || string(got) != "app" {
		t.Fatalf("tree not installed on commit: %v", err)
	}
	if err := s.VerifyTree(id); err != nil {
		t.Fatal(err)
	}
	if rid, err := s.Render(context.Background(), key); err != nil || rid != id {
		t.Fatalf("render of a committed image: %s %v", rid, err)
	}
	if _, raw, err := s.Manifest(key); err != nil || !bytes.Contains(raw, []byte("example.com/app")) {
		t.Fatalf("manifest %s %v", raw, err)
	}
	if k, err := s.ResolveKey(key[:12]); err != nil || k != key {
		t.Fatalf("resolve short key: %s %v", k, err)
	}
	if _, err := s.ResolveKey("sha512-"); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("resolve empty prefix: %v", err)
	}
}

func TestFindByNameRules(t *testing.T) {
	s := openStore(t, t.TempDir())
	clock := time.Unix(1700000000, 0)
	s.now = func() time.Time { clock = clock.Add(time.Minute); return clock }
	v1 := mustIngest(t, s, storetest.BuildACI(t, "example.com/app", map[string]string{"version": "1"}), ImportMeta{Latest: true})
	v2 := mustIngest(t, s, storetest.BuildACI(t, "example.com/app", map[string]string{"version": "2"}), ImportMeta{})
	other := mustIngest(t, s, storetest.BuildACI(t, "example.com/other", nil), ImportMeta{})
	cases := []struct {
		name   string
		labels map[string]string
		want   string
		err    error
	}{
		{"example.com/app", nil, v1, nil}, // latest wins without a version
		{"example.com/app", map[string]string{"version": "2"}, v2, nil},
		{"example.com/app", map[string]string{"version": "1"}, v1, nil},
		{"example.com/app", map[string]string{"version": "3"}, "", ErrNotFound},
		{"example.com/other", nil, other, nil},
		{"example.com/none", nil, "", ErrNotFound},
	}
	for _, c := range cases {
		got, err := s.FindByName(c.name, c.labels)
		if !errors.Is(err, c.err) || got != c.want {
			t.Errorf("FindByName(%s, %v) = %s, %v; want %s, %v", c.name, c.labels, got, err, c.want, c.err)
		}
	}
	// Without latest rows, the newest import wins.
	v3 := mustIngest(t, s, storetest.BuildACI(t, "example.com/new", map[string]string{"version": "3"}), ImportMeta{})
	mustIngest(t, s, storetest.BuildACI(t, "example.com/new", map[string]string{"version": "2"}), ImportMeta{})
	if got, _ := s.FindByName("example.com/new", nil); got == v3 {
		t.Errorf("older import chosen")
	}
}

func TestResolveKeyAmbiguous(t *testing.T) {
	s := openStore(t, t.TempDir())
	seen := map[string]string{} // first two hex digits -> key
	for i := 0; ; i++ {
		key := mustIngest(t, s, storetest.BuildACI(t, "example.com/a", map[string]string{"n": fmt.Sprint(i)}), ImportMeta{})
		if prev, ok := seen[key[:9]]; ok {
			if _, err := s.ResolveKey(key[:9]); !errors.Is(err, ErrAmbiguous) {
				t.Fatalf("prefix %s shared by %s and %s: %v", key[:9], prev, key, err)
			}
			if k, err := s.ResolveKey(key); err != nil || k != key {
				t.Fatalf("full key: %s %v", k, err)
			}
			return
		}
		seen[key[:9]] = key
	}
}

func TestHostileImagesLeaveNothing(t *testing.T) {
	for _, hc := range storetest.HostileCases() {
		t.Run(hc.Name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			_, err := ingest(s, storetest.RawTar(t, hc.Entries...), ImportMeta{})
			var ee *tarsafe.EntryError
			if !errors.As(err, &ee) {
				t.Fatalf("got %v, want *tarsafe.EntryError", err)
			}
			assertEmpty(t, s)
		})
	}
	t.Run("invalid-manifest", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		_, err := ingest(s, storetest.BuildACIWithManifest(t, []byte(`{"acKind":"ImageManifest"}`)), ImportMeta{})
		if !errors.Is(err, ErrInvalidManifest) {
			t.Fatalf("got %v", err)
		}
		assertEmpty(t, s)
	})
	t.Run("no-manifest", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		_, err := ingest(s, storetest.RawTar(t, storetest.File{Name: "rootfs", Typeflag: tar.TypeDir}), ImportMeta{})
		if !errors.Is(err, ErrNoManifest) {
			t.Fatalf("got %v", err)
		}
		assertEmpty(t, s)
	})
	t.Run("no-rootfs", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		_, err := ingest(s, storetest.RawTar(t, storetest.File{Name: "manifest", Body: storetest.Manifest("example.com/app", nil)}), ImportMeta{})
		if !errors.Is(err, ErrNoRootfs) {
			t.Fatalf("got %v, want ErrNoRootfs", err)
		}
		if !strings.Contains(err.Error(), "no rootfs directory") {
			t.Errorf("error %q does not say what is missing", err)
		}
		assertEmpty(t, s)
	})
}

func TestDroppedIngestIsSweptOnOpen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	aci := storetest.BuildACI(t, "example.com/app", nil, storetest.File{Name: "big", Body: bytes.Repeat([]byte("x"), 1<<20)})
	live, err := s.NewIngest()
	if err != nil {
		t.Fatal(err)
	}
	live.Write(aci[:len(aci)/2])
	dropped, err := s.NewIngest()
	if err != nil {
		t.Fatal(err)
	}
	dropped.Write(aci[:len(aci)/2])
	// The owner of "dropped" dies: its extraction stops (a dead process
	// writes nothing more into its area) and its descriptors, and so its
	// lock, go.
	dropped.pw.CloseWithError(errors.New("the owner died"))
	<-dropped.done
	dropped.area.lock.Close()
	dropped.blob.Close()

	s2 := openStore(t, dir)
	ents, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	if len(ents) != 2 { // the live ingest's area and lock only
		t.Fatalf("tmp after sweep has %d entries, want the live ingest's 2", len(ents))
	}
	if _, err := os.Stat(live.area.dir); err != nil {
		t.Fatalf("live ingest swept: %v", err)
	}
	live.Write(aci[len(aci)/2:])
	if _, err := live.Finish(); err != nil {
		t.Fatal(err)
	}
	key, err := live.Commit(ImportMeta{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Image(key); err != nil {
		t.Fatal(err)
	}
	assertTmpEmpty(t, dir)
}

func TestConcurrentIngestSameImage(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	aci := storetest.BuildACI(t, "example.com/app", nil, storetest.File{Name: "f", Body: bytes.Repeat([]byte("y"), 3<<20)})
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			_, err := ingest(s, aci, ImportMeta{})
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	imgs, _ := s.Images()
	if len(imgs) != 1 {
		t.Fatalf("%d rows, want 1", len(imgs))
	}
	if err := s.VerifyTree(tree.ID(imgs[0].Key)); err != nil {
		t.Fatal(err)
	}
	assertTmpEmpty(t, dir)
}

func TestGCSparesImageBeingCommittedAndRemovesOrphans(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	past := time.Now().Add(-48 * time.Hour)
	s.now = func() time.Time { return past }
	old := mustIngest(t, s, storetest.BuildACI(t, "example.com/old", nil), ImportMeta{})
	held := mustIngest(t, s, storetest.BuildACI(t, "example.com/held", nil), ImportMeta{})
	s.now = time.Now
	fresh := mustIngest(t, s, storetest.BuildACI(t, "example.com/fresh", nil), ImportMeta{})

	// An orphan blob and manifest (a commit killed before its row).
	orphanACI := storetest.BuildACI(t, "example.com/orphan", nil)
	orphan := storetest.ImageID(orphanACI)
	tmp := filepath.Join(dir, "orphan")
	os.WriteFile(tmp, orphanACI, 0o600)
	s.cas.CommitBlob(tmp, orphan)
	s.cas.PutManifest(orphan, []byte("{}"))

	// A commit of "held" is in progress in another process.
	l, err := flock.LockPath(filepath.Join(dir, "cas", "imagelocks", held), flock.Exclusive, false, true)
	if err != nil {
		t.Fatal(err)
	}
	removed, err := s.GC(GCOptions{GracePeriod: 24 * time.Hour})
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != old {
		t.Fatalf("removed %v, want only %s", removed, old)
	}
	for key, want := range map[string]bool{old: false, held: true, fresh: true} {
		if _, err := s.Image(key); (err == nil) != want {
			t.Errorf("image %s present=%v, want %v", key, err == nil, want)
		}
		if s.trees.IsRendered(tree.ID(key)) != want {
			t.Errorf("tree of %s present=%v, want %v", key, !want, want)
		}
		if s.cas.HasBlob(key) != want {
			t.Errorf("blob of %s present=%v, want %v", key, !want, want)
		}
	}
	if s.cas.HasBlob(orphan) {
		t.Errorf("orphan blob not collected")
	}
	if _, err := s.cas.Manifest(orphan); err == nil {
		t.Errorf("orphan manifest not collected")
	}
	if removed, _ := s.GC(GCOptions{GracePeriod: 24 * time.Hour}); len(removed) != 1 || removed[0] != held {
		t.Fatalf("second GC removed %v, want %s", removed, held)
	}
}

func TestGCKeepTrees(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	past := time.Now().Add(-48 * time.Hour)
	s.now = func() time.Time { return past }
	used := mustIngest(t, s, storetest.BuildACI(t, "example.com/used", nil), ImportMeta{})
	old := mustIngest(t, s, storetest.BuildACI(t, "example.com/old", nil), ImportMeta{})
	s.now = time.Now
	fresh := mustIngest(t, s, storetest.BuildACI(t, "example.com/fresh", nil), ImportMeta{})
	usedTree := tree.ID(used)

	removed, err := s.GC(GCOptions{KeepTrees: map[string]bool{usedTree: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 {
		t.Fatalf("removed %v, want %s and %s", removed, old, fresh)
	}
	if _, err := s.Image(used); err != nil {
		t.Errorf("image whose tree is kept was removed: %v", err)
	}
	if !s.trees.IsRendered(usedTree) {
		t.Errorf("kept tree was removed")
	}
	for _, key := range []string{old, fresh} {
		if _, err := s.Image(key); err == nil {
			t.Errorf("image %s survived a zero grace period", key)
		}
	}

	// Once no pod uses it, the old image goes; an image kept for its age
	// loses its unused tree, and gets it back from Render.
	fresh = mustIngest(t, s, storetest.BuildACI(t, "example.com/fresh", nil), ImportMeta{})
	removed, err = s.GC(GCOptions{GracePeriod: time.Hour, KeepTrees: map[string]bool{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != used {
		t.Fatalf("removed %v, want %s", removed, used)
	}
	if _, err := s.Image(fresh); err != nil {
		t.Errorf("image within the grace period removed: %v", err)
	}
	if s.trees.IsRendered(tree.ID(fresh)) {
		t.Errorf("unused tree survived")
	}
	if img, _ := s.Image(fresh); img.TreeStoreSize != 0 {
		t.Errorf("tree size of %s is %d after its tree was removed", fresh, img.TreeStoreSize)
	}
	id, err := s.Render(context.Background(), fresh)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyTree(id); err != nil {
		t.Fatal(err)
	}
}

func TestRemove(t *testing.T) {
	s := openStore(t, t.TempDir())
	key := mustIngest(t, s, storetest.BuildACI(t, "example.com/app", nil), ImportMeta{})
	if err := s.Remove(key); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, s)
	if err := s.Remove(key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}
}

// A manifest this Store read before is answered from memory, as a copy
// the caller may change, and not once this Store removed the image.
func TestManifestAfterReadAndRemove(t *testing.T) {
	s := openStore(t, t.TempDir())
	key := mustIngest(t, s, storetest.BuildACI(t, "example.com/app", nil), ImportMeta{})
	im, b, err := s.Manifest(key)
	if err != nil {
		t.Fatal(err)
	}
	im.Name = "example.com/changed"
	b[0] = 'X'
	im2, b2, err := s.Manifest(key)
	if err != nil {
		t.Fatal(err)
	}
	if im2.Name != "example.com/app" || b2[0] != '{' {
		t.Fatalf("second read gave %q and %q: the first caller's changes leaked", im2.Name, b2[:1])
	}
	if err := s.Remove(key); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Manifest(key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("manifest of a removed image: %v, want ErrNotFound", err)
	}
}

func TestRenderWithDependencyAndWhitelist(t *testing.T) {
	s := openStore(t, t.TempDir())
	base := mustIngest(t, s, storetest.BuildACI(t, "example.com/base", map[string]string{"version": "1"},
		storetest.File{Name: "etc/os-release", Body: []byte("base")},
		storetest.File{Name: "bin/sh", Body: []byte("sh"), Mode: 0o755},
		storetest.File{Name: "dropped", Body: []byte("not whitelisted")},
		storetest.File{Name: "shared", Body: []byte("from base")},
	), ImportMeta{})
	baseHash, _ := types.NewHash(base)
	manifest := []byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/top",` +
		`"dependencies":[{"imageName":"example.com/base","labels":[{"name":"version","value":"1"}]}],` +
		`"pathWhitelist":["/etc/os-release","/bin/sh","/shared","/top"]}`)
	topACI := storetest.BuildACIWithManifest(t, manifest,
		storetest.File{Name: "top", Body: []byte("top")},
		storetest.File{Name: "shared", Body: []byte("from top")},
	)
	top := mustIngest(t, s, topACI, ImportMeta{})
	id, err := s.Render(context.Background(), top)
	if err != nil {
		t.Fatal(err)
	}
	if id != tree.ID(base, top) {
		t.Fatalf("tree ID %s, want the chain's %s", id, tree.ID(base, top))
	}
	rootfs := filepath.Join(s.TreePath(id), "rootfs")
	for p, want := range map[string]string{"etc/os-release": "base", "bin/sh": "sh", "top": "top", "shared": "from top"} {
		if b, err := os.ReadFile(filepath.Join(rootfs, p)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
	}
	if _, err := os.Lstat(filepath.Join(rootfs, "dropped")); err == nil {
		t.Errorf("file outside pathWhitelist kept")
	}
	if b, _ := os.ReadFile(filepath.Join(s.TreePath(id), "manifest")); !bytes.Equal(b, manifest) {
		t.Errorf("tree manifest is not the top image's")
	}
	if img, _ := s.Image(top); img.TreeStoreSize == 0 {
		t.Errorf("tree size not recorded")
	}
	// RenderManifest: the same tree, and the top image's manifest (not its
	// dependency's) as Manifest gives it.
	id2, im, raw, err := s.RenderManifest(context.Background(), top)
	if err != nil || id2 != id || im == nil || im.Name.String() != "example.com/top" || !bytes.Equal(raw, manifest) {
		t.Errorf("RenderManifest = %s, %v, %q, %v; want %s and the top manifest", id2, im, raw, err, id)
	}
	// By image ID too, and a missing dependency is reported as such.
	byID := []byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/byid",` +
		`"dependencies":[{"imageName":"example.com/base","imageID":"` + baseHash.String() + `"}]}`)
	k := mustIngest(t, s, storetest.BuildACIWithManifest(t, byID), ImportMeta{})
	if _, err := s.Render(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	missing := []byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/lonely",` +
		`"dependencies":[{"imageName":"example.com/absent"}]}`)
	k = mustIngest(t, s, storetest.BuildACIWithManifest(t, missing), ImportMeta{})
	if _, err := s.Render(context.Background(), k); !errors.Is(err, ErrMissingDependency) {
		t.Fatalf("render with a missing dependency: %v", err)
	}
}

func TestVerifyDetectsChangeAndRepairFixes(t *testing.T) {
	s := openStore(t, t.TempDir())
	key := mustIngest(t, s, storetest.BuildACI(t, "example.com/app", nil,
		storetest.File{Name: "etc/conf", Body: []byte("original")}), ImportMeta{})
	id := tree.ID(key)
	conf := filepath.Join(s.TreePath(id), "rootfs/etc/conf")
	if err := os.WriteFile(conf, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyTree(id); !errors.Is(err, ErrTreeCorrupt) {
		t.Fatalf("verify after tampering: %v", err)
	}
	rid, err := s.RepairTree(context.Background(), key)
	if err != nil || rid != id {
		t.Fatalf("repair: %s %v", rid, err)
	}
	if err := s.VerifyTree(id); err != nil {
		t.Fatalf("verify after repair: %v", err)
	}
	if b, _ := os.ReadFile(conf); string(b) != "original" {
		t.Fatalf("repaired file = %q", b)
	}
	// A tree without "rendered" (killed render) is invisible and rebuilt.
	os.Remove(filepath.Join(s.TreePath(id), "rendered"))
	if err := s.VerifyTree(id); !errors.Is(err, tree.ErrNotRendered) {
		t.Fatalf("verify of an incomplete tree: %v", err)
	}
	if _, err := s.Render(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyTree(id); err != nil {
		t.Fatal(err)
	}
}

func TestImagesWithThousandRows(t *testing.T) {
	s := openStore(t, t.TempDir())
	for i := 0; i < 1000; i++ {
		key := "sha512-" + string(bytes.Repeat([]byte{"0123456789abcdef"[i%16]}, 61)) + string([]byte{"0123456789abcdef"[i/256], "0123456789abcdef"[i/16%16], "0123456789abcdef"[i%16]})
		if err := s.idx.PutImage(indexImage(key)); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	imgs, err := s.Images()
	d := time.Since(start)
	if err != nil || len(imgs) != 1000 {
		t.Fatalf("%d images, %v", len(imgs), err)
	}
	t.Logf("Images() with 1000 rows took %v", d)
	if d > 500*time.Millisecond {
		t.Errorf("Images() took %v for 1000 rows", d)
	}
}

// GC removes temps that killed writers left beside blobs, manifests and
// intents, except those of a key whose lock is held.
func TestGCRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	kept := mustIngest(t, s, storetest.BuildACI(t, "example.com/kept", nil), ImportMeta{})
	dead := storetest.ImageID(storetest.BuildACI(t, "example.com/dead", nil))
	live := storetest.ImageID(storetest.BuildACI(t, "example.com/live", nil))
	var deadTemps, liveTemps []string
	for _, key := range []string{dead, live} {
		dirs := []string{filepath.Dir(s.cas.BlobPath(key)), filepath.Dir(s.cas.ManifestPath(key))}
		if key == live {
			// (A dead key's intent temp would make the intent sweep, not
			// the temp collection, remove its temps.)
			dirs = append(dirs, filepath.Join(dir, "cas", "commits"))
		}
		for _, d := range dirs {
			os.MkdirAll(d, 0o770)
			p := filepath.Join(d, ".tmp-"+key+"-42")
			if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
				t.Fatal(err)
			}
			if key == dead {
				deadTemps = append(deadTemps, p)
			} else {
				liveTemps = append(liveTemps, p)
			}
		}
	}
	l, err := flock.LockPath(filepath.Join(dir, "cas", "imagelocks", live), flock.Exclusive, false, true)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := s.GC(GCOptions{GracePeriod: time.Hour}); err != nil {
		t.Fatal(err)
	}
	for _, p := range deadTemps {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("stale temp %s not removed", p)
		}
	}
	for _, p := range liveTemps {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("temp of a live writer %s removed", p)
		}
	}
	if _, err := s.Image(kept); err != nil {
		t.Errorf("image removed by GC within its grace period: %v", err)
	}
}

// A removal killed after the row went (its intent left) is finished by
// the next Open.
func TestInterruptedRemoveFinishedOnOpen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	key := mustIngest(t, s, storetest.BuildACI(t, "example.com/app", nil), ImportMeta{})
	if err := s.writeIntent(key, intentRemove); err != nil {
		t.Fatal(err)
	}
	if err := s.idx.RemoveImage(key); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, dir)
	assertEmpty(t, s)
	if ents, _ := os.ReadDir(filepath.Join(dir, "cas", "commits")); len(ents) != 0 {
		t.Errorf("intent left: %v", ents)
	}
}

func TestRemoveKeepingTrees(t *testing.T) {
	s := openStore(t, t.TempDir())
	key := mustIngest(t, s, storetest.BuildACI(t, "example.com/app", nil), ImportMeta{})
	id, err := s.Render(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveKeepingTrees(key, map[string]bool{id: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Image(key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("image after remove: %v, want %v", err, ErrNotFound)
	}
	if !s.trees.IsRendered(id) {
		t.Fatal("the kept tree was removed")
	}
	// GC keeps it while it is in use, and removes the orphan after.
	if _, err := s.GC(GCOptions{KeepTrees: map[string]bool{id: true}}); err != nil {
		t.Fatal(err)
	}
	if !s.trees.IsRendered(id) {
		t.Fatal("GC removed a tree in use")
	}
	if _, err := s.GC(GCOptions{KeepTrees: map[string]bool{}}); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, s)
}

// An image rm killed between removing the row and the files is finished by
// the next Open the way it started: the blob goes, the trees (which pods
// may use) stay for image gc.
func TestInterruptedRemoveKeepingTreesKeepsTrees(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	key := mustIngest(t, s, storetest.BuildACI(t, "example.com/app", nil), ImportMeta{})
	id, err := s.Render(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	// What RemoveKeepingTrees does before its files, then a kill.
	if err := s.writeIntent(key, intentRemoveKeepTrees); err != nil {
		t.Fatal(err)
	}
	if err := s.idx.RemoveImage(key); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, dir)
	if !s.trees.IsRendered(id) {
		t.Fatal("the sweep of an interrupted image rm removed a tree pods may use")
	}
	if _, err := os.Stat(s.cas.BlobPath(key)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the blob of the removed image: %v, want it gone", err)
	}
	if _, err := os.Stat(s.intentPath(key)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the intent: %v, want it gone", err)
	}
}

// Touch records a use, but leaves a last-used time younger than
// TouchInterval alone: pods started one after the other do not each write
// the index. The same holds when the Store read the image's manifest (and
// row) before, as a pod start does.
func TestTouchSkipsARecentTime(t *testing.T) {
	for _, readFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("manifest read first %v", readFirst), func(t *testing.T) {
			testTouchSkipsARecentTime(t, readFirst)
		})
	}
}

func testTouchSkipsARecentTime(t *testing.T, readFirst bool) {
	s := openStore(t, t.TempDir())
	clock := time.Unix(1700000000, 0)
	s.now = func() time.Time { return clock }
	key := mustIngest(t, s, storetest.BuildACI(t, "example.com/app", nil), ImportMeta{})
	if readFirst {
		if _, _, err := s.Manifest(key); err != nil {
			t.Fatal(err)
		}
	}
	lastUsed := func() time.Time {
		t.Helper()
		img, err := s.Image(key)
		if err != nil {
			t.Fatal(err)
		}
		return img.LastUsed
	}
	imported := lastUsed()
	clock = clock.Add(TouchInterval - time.Second)
	if err := s.Touch(key); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); !got.Equal(imported) {
		t.Errorf("a use %v after the last moved it: %v -> %v", TouchInterval-time.Second, imported, got)
	}
	clock = clock.Add(time.Second)
	if err := s.Touch(key); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); !got.Equal(clock) {
		t.Errorf("a use %v after the last: lastused %v, want %v", TouchInterval, got, clock)
	}
	// A last-used time in the future (a clock set back) is replaced.
	clock = clock.Add(-time.Hour)
	if err := s.Touch(key); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); !got.Equal(clock) {
		t.Errorf("after the clock went back: lastused %v, want %v", got, clock)
	}
	if err := s.Touch("sha512-" + strings.Repeat("0", 128)); !errors.Is(err, ErrNotFound) {
		t.Errorf("touching a missing image: %v", err)
	}
}

// ingestNoTree is ingest of a layer image (Ingest.NoTree).
func ingestNoTree(s *Store, aci []byte) (string, error) {
	in, err := s.NewIngest()
	if err != nil {
		return "", err
	}
	defer in.Abort()
	if err := in.NoTree(); err != nil {
		return "", err
	}
	if _, err := io.CopyBuffer(in, bytes.NewReader(aci), make([]byte, 4096)); err != nil {
		return "", err
	}
	if _, err := in.Finish(); err != nil {
		return "", err
	}
	return in.Commit(ImportMeta{})
}

// TestNoTreeLayers: a layer image is checked by the same rules without
// being extracted, gets no tree of its own, and the image depending on it
// renders from its blob into a tree that verifies.
func TestNoTreeLayers(t *testing.T) {
	for _, hc := range storetest.HostileCases() {
		if hc.Name == "hardlink-missing" {
			// A layer may link to a file of a layer below it: checked
			// when rendered (TestLayerHardlinks).
			continue
		}
		t.Run(hc.Name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			_, err := ingestNoTree(s, storetest.RawTar(t, hc.Entries...))
			var ee *tarsafe.EntryError
			if !errors.As(err, &ee) {
				t.Fatalf("got %v, want *tarsafe.EntryError", err)
			}
			assertEmpty(t, s)
		})
	}
	s := openStore(t, t.TempDir())
	if _, err := ingestNoTree(s, storetest.RawTar(t, storetest.File{Name: "manifest", Body: storetest.Manifest("oci-layer/x", nil)})); !errors.Is(err, ErrNoRootfs) {
		t.Fatalf("layer without rootfs: %v, want ErrNoRootfs", err)
	}
	assertEmpty(t, s)
	lower, err := ingestNoTree(s, storetest.BuildACI(t, "oci-layer/lower", nil,
		storetest.File{Name: "etc/conf", Body: []byte("lower")},
		storetest.File{Name: "var/cache/f", Body: []byte("whited out above")},
	))
	if err != nil {
		t.Fatal(err)
	}
	upperManifest := []byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"oci-layer/upper",` +
		`"annotations":[{"name":"` + AnnWhiteouts + `","value":"[\"/var/cache\"]"}]}`)
	upper, err := ingestNoTree(s, storetest.BuildACIWithManifest(t, upperManifest, storetest.File{Name: "etc/conf", Body: []byte("upper")}))
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.trees.IDs(); len(ids) != 0 {
		t.Fatalf("layer images got trees: %v", ids)
	}
	top := mustIngest(t, s, storetest.BuildACIWithManifest(t, []byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/app",`+
		`"dependencies":[{"imageName":"oci-layer/lower","imageID":"`+lower+`"},{"imageName":"oci-layer/upper","imageID":"`+upper+`"}]}`)), ImportMeta{})
	id, err := s.Render(context.Background(), top)
	if err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(s.TreePath(id), "rootfs")
	if b, err := os.ReadFile(filepath.Join(rootfs, "etc/conf")); err != nil || string(b) != "upper" {
		t.Errorf("etc/conf = %q, %v; want the upper layer's", b, err)
	}
	if _, err := os.Lstat(filepath.Join(rootfs, "var/cache")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("whited-out var/cache: %v", err)
	}
	// The hash recorded from the extraction is the walk's.
	if err := s.VerifyTree(id); err != nil {
		t.Errorf("verifying the rendered tree: %v", err)
	}
	if ids, _ := s.trees.IDs(); len(ids) != 1 {
		t.Errorf("trees %v, want only the app's", ids)
	}
}
