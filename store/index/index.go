// Package index keeps the image and remote metadata of the store in a bbolt
// database (rkt kept the same rows in ql).
//
// Layout: two buckets of JSON rows,
//
//	images   image key (sha512-<64 hex>) -> Image
//	remotes  ACI URL                     -> Remote
//
// Invariants: an image row is written last when an image is imported, so a
// row always names a complete blob and manifest. bbolt holds a flock on the
// database for as long as it is open (exclusive for writers), so the index
// opens it for each operation only: readers share it, one writer at a time,
// and no process keeps other processes out between operations.
package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketImages  = []byte("images")
	bucketRemotes = []byte("remotes")
)

// lockTimeout bounds the wait for another process's write transaction.
const lockTimeout = 2 * time.Minute

// Image is one imported image.
type Image struct {
	Key           string            `json:"key"`
	Name          string            `json:"name"`
	Labels        map[string]string `json:"labels,omitempty"`
	ImportTime    time.Time         `json:"importTime"`
	LastUsed      time.Time         `json:"lastUsed"`
	Latest        bool              `json:"latest"`
	Size          int64             `json:"size"`
	TreeStoreSize int64             `json:"treeStoreSize"`
	// Layer is set for an image converted from one OCI layer
	// (annotation store.AnnLayer): it is used only by the images that
	// depend on it. Rows written before it read as false.
	Layer bool `json:"layer,omitempty"`
	// RegistryReference and ManifestDigest are set for an image fetched
	// from a registry (docker://): the reference pulled, normalized
	// ("docker.io/library/busybox:1", "localhost:5000/team/app@sha256:..."),
	// and the digest of the image manifest stored ("sha256:<hex>"; the
	// platform's manifest when the reference named an index). An image
	// from an OCI layout or archive has the digest alone. Rows of other
	// images, and rows written before these fields, read as "".
	RegistryReference string `json:"registryReference,omitempty"`
	ManifestDigest    string `json:"manifestDigest,omitempty"`
}

// Remote is the HTTP cache row of one ACI URL.
type Remote struct {
	ACIURL       string        `json:"aciURL"`
	SigURL       string        `json:"sigURL"`
	ETag         string        `json:"etag"`
	BlobKey      string        `json:"blobKey"`
	CacheMaxAge  time.Duration `json:"cacheMaxAge"`
	DownloadTime time.Time     `json:"downloadTime"`
}

// Index is the database at one path.
type Index struct {
	path     string
	readOnly bool // never written, never created (OpenReadOnly)
}

// OpenReadOnly is the database at path for reading only: nothing is
// created or written, so a reader without write access to the store can
// use it. Until the database exists and is initialised (a writer's first
// Open), Images is empty and Image finds nothing.
func OpenReadOnly(path string) *Index { return &Index{path: path, readOnly: true} }

// Open creates the database and its buckets when missing.
func Open(path string) (*Index, error) {
	x := &Index{path: path}
	if x.ready() {
		// The common case: a read-only look, no write transaction and
		// none of its syncs on every command.
		return x, nil
	}
	if err := createShared(path); err != nil {
		return nil, fmt.Errorf("opening image index %s: %w", path, err)
	}
	err := x.update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketImages, bucketRemotes} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("opening image index %s: %w", path, err)
	}
	return x, nil
}

// createShared creates the database file, empty (bolt initialises an empty
// file), with mode 0660 whatever the umask: every member of the data dir's
// group writes to it. An existing file is left alone.
func createShared(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o660)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Chmod(0o660)
}

// ready reports whether the database exists with its buckets.
func (x *Index) ready() bool {
	if _, err := os.Stat(x.path); err != nil {
		return false
	}
	ok := false
	err := x.view(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketImages) != nil && tx.Bucket(bucketRemotes) != nil
		return nil
	})
	return err == nil && ok
}

func (x *Index) open(readOnly bool) (*bolt.DB, error) {
	return bolt.Open(x.path, 0o660, &bolt.Options{Timeout: lockTimeout, ReadOnly: readOnly})
}

func (x *Index) update(fn func(*bolt.Tx) error) error {
	if x.readOnly {
		return fmt.Errorf("writing image index %s: %w", x.path, fs.ErrPermission)
	}
	db, err := x.open(false)
	if err != nil {
		return err
	}
	if err := db.Update(fn); err != nil {
		db.Close()
		return err
	}
	return db.Close()
}

func (x *Index) view(fn func(*bolt.Tx) error) error {
	if x.readOnly {
		// Missing, or empty as setup-data-dir.sh creates it: bbolt
		// would have to write to initialise it.
		if fi, err := os.Stat(x.path); errors.Is(err, fs.ErrNotExist) || err == nil && fi.Size() == 0 {
			return ErrNoDatabase
		}
	}
	db, err := x.open(true)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(fn)
}

func put(tx *bolt.Tx, bucket []byte, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put([]byte(key), b)
}

// PutImage writes (or replaces) img's row.
func (x *Index) PutImage(img Image) error {
	if err := x.update(func(tx *bolt.Tx) error { return put(tx, bucketImages, img.Key, img) }); err != nil {
		return fmt.Errorf("writing index row %s: %w", img.Key, err)
	}
	return nil
}

// UpdateImage changes key's row with fn inside one write transaction.
func (x *Index) UpdateImage(key string, fn func(*Image)) error {
	err := x.update(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketImages).Get([]byte(key))
		if v == nil {
			return ErrNotFound
		}
		var img Image
		if err := json.Unmarshal(v, &img); err != nil {
			return err
		}
		fn(&img)
		img.Key = key
		return put(tx, bucketImages, key, img)
	})
	if err != nil {
		return fmt.Errorf("updating index row %s: %w", key, err)
	}
	return nil
}

// Image returns key's row, or ErrNotFound.
func (x *Index) Image(key string) (Image, error) {
	var img Image
	err := x.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketImages).Get([]byte(key))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &img)
	})
	if errors.Is(err, ErrNoDatabase) {
		err = ErrNotFound
	}
	if err != nil {
		return Image{}, fmt.Errorf("reading index row %s: %w", key, err)
	}
	return img, nil
}

// Images returns every image row, in key order.
func (x *Index) Images() ([]Image, error) {
	var imgs []Image
	err := x.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketImages).ForEach(func(k, v []byte) error {
			var img Image
			if err := json.Unmarshal(v, &img); err != nil {
				return fmt.Errorf("decoding row %s: %w", k, err)
			}
			imgs = append(imgs, img)
			return nil
		})
	})
	if errors.Is(err, ErrNoDatabase) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	return imgs, nil
}

// RemoveImage deletes key's row and the remote rows that point to it.
func (x *Index) RemoveImage(key string) error {
	err := x.update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketImages).Delete([]byte(key)); err != nil {
			return err
		}
		rb := tx.Bucket(bucketRemotes)
		var stale [][]byte
		err := rb.ForEach(func(k, v []byte) error {
			var r Remote
			if json.Unmarshal(v, &r) == nil && r.BlobKey == key {
				stale = append(stale, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := rb.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("removing index row %s: %w", key, err)
	}
	return nil
}

// PutRemote writes (or replaces) the cache row of r.ACIURL.
func (x *Index) PutRemote(r Remote) error {
	if err := x.update(func(tx *bolt.Tx) error { return put(tx, bucketRemotes, r.ACIURL, r) }); err != nil {
		return fmt.Errorf("writing remote row %s: %w", r.ACIURL, err)
	}
	return nil
}

// Remote returns the cache row of aciURL, or nil and no error when absent.
func (x *Index) Remote(aciURL string) (*Remote, error) {
	var r *Remote
	err := x.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRemotes).Get([]byte(aciURL))
		if v == nil {
			return nil
		}
		r = &Remote{}
		return json.Unmarshal(v, r)
	})
	if err != nil {
		return nil, fmt.Errorf("reading remote row %s: %w", aciURL, err)
	}
	return r, nil
}
