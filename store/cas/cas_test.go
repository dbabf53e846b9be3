package cas

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rkt/rkt/store/storetest"
)

func TestCommitOpenRemove(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(filepath.Join(dir, "cas"))
	if err != nil {
		t.Fatal(err)
	}
	aci := storetest.BuildACI(t, "example.com/cas", nil)
	key := storetest.ImageID(aci)
	tmp := filepath.Join(dir, "tmpblob")
	os.WriteFile(tmp, aci, 0o600)
	if err := c.CommitBlob(tmp, key); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "cas", "blob", "sha512", key[7:9], key)
	if c.BlobPath(key) != want {
		t.Fatalf("blob path %s, want %s", c.BlobPath(key), want)
	}
	if _, err := os.Stat(want); err != nil {
		t.Fatalf("blob not at rkt's path: %v", err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temp file left behind")
	}
	// A second commit of the same key drops its temp file.
	os.WriteFile(tmp, aci, 0o600)
	if err := c.CommitBlob(tmp, key); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("duplicate temp file left behind")
	}
	rc, err := c.OpenBlob(key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if storetest.ImageID(b) != key {
		t.Fatalf("blob content changed")
	}
	if err := c.PutManifest(key, []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	if m, err := c.Manifest(key); err != nil || string(m) != `{"x":1}` {
		t.Fatalf("manifest %s %v", m, err)
	}
	if ks := c.BlobKeys(); len(ks) != 1 || ks[0] != key {
		t.Fatalf("blob keys %v", ks)
	}
	if err := c.RemoveBlob(key); err != nil {
		t.Fatal(err)
	}
	if _, err := c.OpenBlob(key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("open removed blob: %v", err)
	}
	if _, err := c.OpenBlob("sha512-../../etc"); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("open invalid key: %v", err)
	}
}
