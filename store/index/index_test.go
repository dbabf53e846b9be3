package index

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestImagesAndRemotes(t *testing.T) {
	x, err := Open(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	img := Image{Key: "sha512-aa", Name: "example.com/a", Labels: map[string]string{"version": "1"}, ImportTime: now, Size: 10}
	if err := x.PutImage(img); err != nil {
		t.Fatal(err)
	}
	got, err := x.Image("sha512-aa")
	if err != nil || got.Name != img.Name || got.Labels["version"] != "1" || !got.ImportTime.Equal(now) {
		t.Fatalf("got %+v %v", got, err)
	}
	if err := x.UpdateImage("sha512-aa", func(i *Image) { i.LastUsed = now.Add(time.Hour) }); err != nil {
		t.Fatal(err)
	}
	if got, _ := x.Image("sha512-aa"); !got.LastUsed.Equal(now.Add(time.Hour)) {
		t.Fatalf("lastused not updated: %+v", got)
	}
	if err := x.PutRemote(Remote{ACIURL: "https://e/a.aci", BlobKey: "sha512-aa", ETag: "x", CacheMaxAge: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if r, err := x.Remote("https://e/a.aci"); err != nil || r == nil || r.ETag != "x" || r.CacheMaxAge != time.Minute {
		t.Fatalf("remote %+v %v", r, err)
	}
	if r, err := x.Remote("https://e/none"); r != nil || err != nil {
		t.Fatalf("absent remote: %+v %v", r, err)
	}
	if err := x.RemoveImage("sha512-aa"); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Image("sha512-aa"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed image: %v", err)
	}
	if r, _ := x.Remote("https://e/a.aci"); r != nil {
		t.Fatalf("remote row of a removed image kept: %+v", r)
	}
}

func TestImagesIsFastWithThousandRows(t *testing.T) {
	x, err := Open(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	err = x.update(func(tx *bolt.Tx) error {
		for i := 0; i < 1000; i++ {
			if err := put(tx, bucketImages, fmt.Sprintf("sha512-%064d", i), Image{Key: fmt.Sprintf("sha512-%064d", i), Name: "example.com/x", Labels: map[string]string{"version": fmt.Sprint(i)}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	imgs, err := x.Images()
	elapsed := time.Since(start)
	if err != nil || len(imgs) != 1000 {
		t.Fatalf("%d images, %v", len(imgs), err)
	}
	t.Logf("Images() with 1000 rows: %v", elapsed)
	// Generous bound (shared machine); a full-table design takes tens of ms.
	if elapsed > 500*time.Millisecond {
		t.Errorf("Images() took %v with 1000 rows", elapsed)
	}
}
