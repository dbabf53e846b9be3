package ocisig

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/rkt/rkt/stage0/trust"
)

// Bounds of readArchive: what it keeps in memory, and how many entries it
// reads, whatever the archive holds.
const (
	maxArchiveKept    = 64 << 20
	maxArchiveEntries = 100000
)

// readArchive reads the small files of an OCI layout tarball (index.json,
// oci-layout, and blobs of at most trust.MaxMessageSize bytes: manifests,
// configs, signature payloads) into memory, in one pass; layers are
// skipped, never decompressed nor written. Each blob read later is checked
// against its digest.
func readArchive(p string) (fs.FS, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	files := memFS{}
	kept := 0
	tr := tar.NewReader(f)
	for n := 0; ; n++ {
		if n == maxArchiveEntries {
			return nil, fmt.Errorf("reading archive %s: more than %d entries", p, maxArchiveEntries)
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading archive %s: %w", p, err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if h.Typeflag != tar.TypeReg || h.Size > trust.MaxMessageSize || !fs.ValidPath(name) {
			continue
		}
		if name != "index.json" && name != "oci-layout" && !strings.HasPrefix(name, "blobs/") {
			continue
		}
		if kept += int(h.Size); kept > maxArchiveKept {
			return nil, fmt.Errorf("reading archive %s: more than %d bytes of manifests", p, maxArchiveKept)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("reading archive %s: %s: %w", p, h.Name, err)
		}
		files[name] = data
	}
	if _, ok := files["index.json"]; !ok {
		return nil, fmt.Errorf("reading archive %s: no index.json: not an OCI layout", p)
	}
	return files, nil
}

// memFS is files held in memory, read only through Open.
type memFS map[string][]byte

func (m memFS) Open(name string) (fs.File, error) {
	data, ok := m[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{Reader: bytes.NewReader(data), name: name, size: int64(len(data))}, nil
}

type memFile struct {
	*bytes.Reader
	name string
	size int64
}

func (f *memFile) Stat() (fs.FileInfo, error) { return memInfo{f}, nil }
func (f *memFile) Close() error               { return nil }

type memInfo struct{ f *memFile }

func (i memInfo) Name() string       { return path.Base(i.f.name) }
func (i memInfo) Size() int64        { return i.f.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }
