package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/flock"
)

// partialDir keeps the bytes of interrupted downloads, so that the next
// fetch of the URL resumes them:
//
//	<dir>/cas/partial/<sha256 of URL>       the bytes as fetched so far
//	<dir>/cas/partial/<sha256 of URL>.json  URL and validator (Partial)
//
// The bytes are unverified and never become an image by themselves: a
// resumed download is spooled whole (these bytes, then the rest) and
// verified like any other. Only the holder of the URL's download lock
// (LockDownload) reads or changes a URL's partial download.
const partialDir = "partial"

// Partial is an interrupted download of one URL.
type Partial struct {
	URL string `json:"url"`
	// ETag and LastModified are the validators the server gave; a resume
	// asks for the rest only if the resource still has them (If-Range).
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	// Size is the number of bytes kept.
	Size int64 `json:"-"`
	// Path is the file holding them.
	Path string `json:"-"`
}

// Validator is what a resume sends as If-Range: the ETag, else the
// Last-Modified date.
func (p *Partial) Validator() string {
	if p.ETag != "" {
		return p.ETag
	}
	return p.LastModified
}

func (s *Store) partialPath(url string) string {
	sum := sha256.Sum256([]byte(url))
	return filepath.Join(s.casDir, partialDir, hex.EncodeToString(sum[:]))
}

// Partial returns the interrupted download of url, or nil when there is
// none (or only an unusable one, which is removed).
func (s *Store) Partial(url string) (*Partial, error) {
	path := s.partialPath(url)
	data, err := os.ReadFile(path + ".json")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the partial download of %s: %w", url, err)
	}
	var p Partial
	fi, serr := os.Stat(path)
	if json.Unmarshal(data, &p) != nil || p.URL != url || p.Validator() == "" || serr != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return nil, s.DropPartial(url)
	}
	p.Size, p.Path = fi.Size(), path
	return &p, nil
}

// DropPartial removes the interrupted download of url, if any.
func (s *Store) DropPartial(url string) error {
	path := s.partialPath(url)
	for _, p := range []string{path + ".json", path} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the partial download of %s: %w", url, err)
		}
	}
	return nil
}

// KeepAsPartial moves what the spool holds into the store as the
// interrupted download of p.URL (whose validator must be set), so that the
// next fetch resumes it. The ingest can only be aborted after it.
func (sp *Spool) KeepAsPartial(p Partial) error {
	if p.Validator() == "" || sp.n == 0 {
		return nil
	}
	if err := sp.w.Close(); err != nil {
		return fmt.Errorf("keeping the partial download of %s: %w", p.URL, err)
	}
	if err := sp.f.Sync(); err != nil {
		return fmt.Errorf("keeping the partial download of %s: %w", p.URL, err)
	}
	s := sp.in.s
	path := s.partialPath(p.URL)
	// Group-writable, as the rest of the store a member of group rkt may
	// fetch into (tmpfiles.d/rkt.conf): another member may resume it.
	if err := atomicfile.MkdirAll(filepath.Dir(path), dirPerm); err != nil {
		return fmt.Errorf("keeping the partial download of %s: %w", p.URL, err)
	}
	// The bytes first, then the record that makes them count.
	if err := os.Remove(path + ".json"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("keeping the partial download of %s: %w", p.URL, err)
	}
	if err := sp.f.Chmod(0o660); err != nil {
		return fmt.Errorf("keeping the partial download of %s: %w", p.URL, err)
	}
	if err := os.Rename(sp.f.Name(), path); err != nil {
		return fmt.Errorf("keeping the partial download of %s: %w", p.URL, err)
	}
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("keeping the partial download of %s: %w", p.URL, err)
	}
	if err := atomicfile.WriteFile(path+".json", data, 0o660); err != nil {
		return fmt.Errorf("keeping the partial download of %s: %w", p.URL, err)
	}
	return nil
}

// gcPartials removes the interrupted downloads older than cutoff whose
// URL no fetch is downloading now.
func (s *Store) gcPartials(cutoff time.Time) error {
	dir := filepath.Join(s.casDir, partialDir)
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, de := range des {
		name, _ := strings.CutSuffix(de.Name(), ".json")
		fi, err := de.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			continue
		}
		lock := filepath.Join(s.casDir, downloadLocksDir, name)
		l, err := flock.LockPath(lock, flock.Exclusive, false, false)
		if errors.Is(err, flock.ErrLocked) {
			continue
		}
		os.Remove(filepath.Join(dir, de.Name()))
		if err == nil {
			l.Close()
		}
	}
	return nil
}
