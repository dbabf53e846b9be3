package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rkt/rkt/store/storetest"
)

// TestOpenReadOnly: a read-only store reads what a writer stored, sees a
// removal at once, and writes nothing: not on a data dir that does not
// exist, not on one a writer uses.
func TestOpenReadOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ro := OpenReadOnly(dir)
	if imgs, err := ro.Images(); err != nil || len(imgs) != 0 {
		t.Fatalf("Images of a store never written: %v %v", imgs, err)
	}
	if _, err := ro.Image("sha512-00"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Image of a store never written: %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the read-only store created its data dir: %v", err)
	}
	ro.Close()

	// The empty index file setup-data-dir.sh creates reads as empty too.
	if err := os.MkdirAll(filepath.Join(dir, "cas", "db"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cas", "db", "index.db"), nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if imgs, err := OpenReadOnly(dir).Images(); err != nil || len(imgs) != 0 {
		t.Fatalf("Images with an empty index file: %v %v", imgs, err)
	}
	if err := os.Chmod(filepath.Join(dir, "cas", "db", "index.db"), 0o644); err != nil {
		t.Fatal(err)
	}

	w := openStore(t, dir)
	aci := storetest.BuildACI(t, "example.com/ro", map[string]string{"version": "2"})
	key := mustIngest(t, w, aci, ImportMeta{})
	before := snapshot(t, dir)

	ro = OpenReadOnly(dir)
	defer ro.Close()
	imgs, err := ro.Images()
	if err != nil || len(imgs) != 1 || imgs[0].Key != key || imgs[0].Name != "example.com/ro" {
		t.Fatalf("Images: %+v %v", imgs, err)
	}
	if _, raw, err := ro.Manifest(key); err != nil || len(raw) == 0 {
		t.Fatalf("Manifest: %v", err)
	}
	if k, err := ro.ResolveKey(key[:20]); err != nil || k != key {
		t.Fatalf("ResolveKey: %s %v", k, err)
	}
	if after := snapshot(t, dir); after != before {
		t.Errorf("reading through the read-only store changed the data dir:\nbefore %s\nafter  %s", before, after)
	}
	if err := w.Remove(key); err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Image(key); !errors.Is(err, ErrNotFound) {
		t.Errorf("Image after a writer removed it: %v, want ErrNotFound", err)
	}
}

// snapshot lists every path under dir with its size and mtime.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var s string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		s += p + " " + fi.ModTime().Format(time.RFC3339Nano) + " " + fi.Mode().String() + "\n"
		if !fi.IsDir() {
			s += fmt.Sprintf("  size %d\n", fi.Size())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
