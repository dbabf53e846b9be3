// Package tree keeps rendered image trees: an image's rootfs with its
// dependencies layered below it and its pathWhitelist applied, ready to be
// an overlay lower dir.
//
// On disk:
//
//	<tree>/deps-sha512-<64 hex>/
//	    rootfs/    the rendered files
//	    manifest   the top image's manifest
//	    image      the top image's key
//	    hash       "v2:sha512-" + hex sha512 of the canonical walk (see Hash)
//	    rendered   written last, atomically: the tree is complete
//
// Invariants: a tree without "rendered" is invisible (IsRendered is false)
// and is replaced by the next render; a tree is built in a staging
// directory, made durable with syncfs, and renamed into place before
// "rendered" is written. Removal deletes "rendered" first. Callers
// serialise writers of one tree with Lock.
//
// The hash of a freshly extracted single-image tree is computed from the
// extractor's records (tarsafe.Options.Record), without reading the files
// back; Hash, which walks and reads the tree, gives the same value for an
// unmodified tree and is what Verify uses.
package tree

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/common/tarsafe"
	"golang.org/x/sys/unix"
)

const (
	// IDPrefix starts every tree ID.
	IDPrefix = "deps-"

	renderedFile = "rendered"
	hashFile     = "hash"
	imageFile    = "image"
)

// ID names the tree of an image chain, bottom dependency first and the
// image itself last. An image without dependencies gets "deps-<key>"; a
// chain gets "deps-sha512-" and the first 64 hex digits of the sha512 of
// the keys joined by newlines.
func ID(chain ...string) string {
	if len(chain) == 1 {
		return IDPrefix + chain[0]
	}
	sum := sha512.Sum512([]byte(strings.Join(chain, "\n")))
	return IDPrefix + "sha512-" + hex.EncodeToString(sum[:32])
}

// ValidID reports whether id looks like a tree ID (and is a safe name).
func ValidID(id string) bool {
	rest, ok := strings.CutPrefix(id, IDPrefix+"sha512-")
	if !ok || len(rest) != 64 {
		return false
	}
	for _, c := range rest {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Store is the tree directory and its lock directory.
type Store struct {
	dir     string
	lockDir string
}

// New uses (creating when missing) dir for trees and lockDir for their locks.
func New(dir, lockDir string) (*Store, error) {
	for _, d := range []string{dir, lockDir} {
		if err := atomicfile.MkdirAll(d, fs.ModeSetgid|0o770); err != nil {
			return nil, fmt.Errorf("opening tree store: %w", err)
		}
	}
	return &Store{dir: dir, lockDir: lockDir}, nil
}

// Path is the tree's directory.
func (s *Store) Path(id string) string { return filepath.Join(s.dir, id) }

// Lock takes the tree's lock (waiting for it when wait is set).
func (s *Store) Lock(id string, mode flock.Mode, wait bool) (*flock.Lock, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("locking tree %q: invalid tree ID", id)
	}
	return flock.LockPath(filepath.Join(s.lockDir, id), mode, wait, true)
}

// IsRendered reports whether the tree is complete.
func (s *Store) IsRendered(id string) bool {
	if !ValidID(id) {
		return false
	}
	_, err := os.Stat(filepath.Join(s.dir, id, renderedFile))
	return err == nil
}

// ImageKey returns the key of the tree's top image.
func (s *Store) ImageKey(id string) (string, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, id, imageFile))
	if err != nil {
		return "", fmt.Errorf("reading tree %s: %w", id, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// IDs lists every tree directory, complete or not.
func (s *Store) IDs() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("listing trees: %w", err)
	}
	var ids []string
	for _, e := range ents {
		if ValidID(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// Layer is one image of a chain.
type Layer struct {
	Key  string
	Open func() (io.ReadCloser, error) // the uncompressed ACI tar
	// Whiteouts are paths of rootfs (absolute, slash-separated) that this
	// layer deletes from the layers below it before its entries are
	// written; one ending in "/" keeps the directory and deletes its
	// contents (an OCI opaque directory).
	Whiteouts []string
	// LowerLinks: the layer's hardlinks may name regular files of the
	// layers below it (tarsafe.Options.LowerLinks; OCI layers).
	LowerLinks bool
}

// Sum is a tree's hash and the total size of its regular files.
type Sum struct {
	Hash string // HashVersion + "sha512-" + 128 hex digits
	Size int64
}

// Build extracts layers, bottom first, into stage (an existing empty
// directory), takes the manifest from the last layer and applies its
// pathWhitelist (when not empty: files not listed are removed, and
// directories left empty that are not listed).
func Build(ctx context.Context, stage string, layers []Layer, whitelist []string) error {
	_, err := build(ctx, stage, layers, whitelist, false)
	return err
}

// BuildHashed is Build that also returns the tree's Sum for InstallHashed:
// computed from the extractors' records, carried across the layers and
// their whiteouts (tarsafe.Records), or, when those are not exact (a
// layer wrote through a symlink of a lower one), by Hash (a walk that
// reads every file).
func BuildHashed(ctx context.Context, stage string, layers []Layer, whitelist []string) (Sum, error) {
	return build(ctx, stage, layers, whitelist, true)
}

func build(ctx context.Context, stage string, layers []Layer, whitelist []string, wantSum bool) (Sum, error) {
	var recs *tarsafe.Records
	if wantSum {
		// One description of rootfs, carried through every layer and
		// its whiteouts, so that the tree is hashed from what was
		// written rather than read back.
		recs = tarsafe.NewRecords()
	}
	for i, l := range layers {
		if err := ctx.Err(); err != nil {
			return Sum{}, err
		}
		if err := applyWhiteouts(filepath.Join(stage, tarsafe.RootfsName), l.Whiteouts, recs); err != nil {
			return Sum{}, fmt.Errorf("rendering %s: %w", l.Key, err)
		}
		rc, err := l.Open()
		if err != nil {
			return Sum{}, fmt.Errorf("rendering %s: %w", l.Key, err)
		}
		opts := tarsafe.Options{SkipManifest: i != len(layers)-1, Records: recs, LowerLinks: l.LowerLinks}
		_, err = tarsafe.Extract(rc, stage, opts)
		rc.Close()
		if err != nil {
			return Sum{}, fmt.Errorf("rendering %s: %w", l.Key, err)
		}
	}
	if !wantSum {
		if len(whitelist) == 0 {
			return Sum{}, nil
		}
		return Sum{}, applyWhitelist(filepath.Join(stage, tarsafe.RootfsName), whitelist)
	}
	return Finish(stage, &tarsafe.Result{Files: recs.Files()}, whitelist)
}

// applyWhiteouts deletes paths from rootfs, through an os.Root so that no
// symlink of a lower layer leads a deletion outside it. A path that does
// not exist is no error (OCI layers may white out what is not there).
// recs, when not nil, is told every removal.
func applyWhiteouts(rootfs string, paths []string, recs *tarsafe.Records) error {
	if len(paths) == 0 {
		return nil
	}
	root, err := os.OpenRoot(rootfs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("applying whiteouts: %w", err)
	}
	defer root.Close()
	for _, p := range paths {
		rel := strings.Trim(path.Clean("/"+p), "/")
		if rel == "" && !strings.HasSuffix(p, "/") {
			continue
		}
		if !strings.HasSuffix(p, "/") {
			if err := root.RemoveAll(rel); err != nil {
				return fmt.Errorf("applying whiteout %q: %w", p, err)
			}
			recs.Removed(rel)
			continue
		}
		if rel == "" {
			rel = "."
		}
		d, err := root.Open(rel)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("applying opaque directory %q: %w", p, err)
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			return fmt.Errorf("applying opaque directory %q: %w", p, err)
		}
		for _, n := range names {
			if err := root.RemoveAll(path.Join(rel, n)); err != nil {
				return fmt.Errorf("applying opaque directory %q: %w", p, err)
			}
			recs.Removed(path.Join(rel, n))
		}
	}
	return nil
}

// Finish applies whitelist to stage, a tree written by one tarsafe.Extract
// whose Result is res, and returns the tree's Sum. When res carries the
// extractor's records (Options.Record) nothing is read back; otherwise
// (res nil, or records not exact) the tree is walked with Hash.
func Finish(stage string, res *tarsafe.Result, whitelist []string) (Sum, error) {
	var files []tarsafe.FileRecord
	if res != nil && res.Files != nil {
		files = res.Files
		if len(whitelist) > 0 {
			files = whitelistFiles(filepath.Join(stage, tarsafe.RootfsName), files, whitelist)
		}
	}
	if files == nil {
		if len(whitelist) > 0 {
			if err := applyWhitelist(filepath.Join(stage, tarsafe.RootfsName), whitelist); err != nil {
				return Sum{}, err
			}
		}
		h, size, err := Hash(stage)
		return Sum{Hash: h, Size: size}, err
	}
	manifest, err := os.ReadFile(filepath.Join(stage, tarsafe.ManifestName))
	if err != nil {
		return Sum{}, fmt.Errorf("hashing tree: %w", err)
	}
	h, size := HashFiles(manifest, files)
	return Sum{Hash: h, Size: size}, nil
}

// whitelistFiles removes from rootfs what applyWhitelist would, driven by
// the records instead of a walk, and returns the records left. It returns
// nil when the disk did not behave as the records said (the caller then
// falls back to applyWhitelist and Hash).
func whitelistFiles(rootfs string, files []tarsafe.FileRecord, whitelist []string) []tarsafe.FileRecord {
	keep := map[string]bool{}
	for _, p := range whitelist {
		keep[filepath.Clean("/"+p)] = true
	}
	gone := make([]bool, len(files))
	children := map[string]int{}
	for i, f := range files {
		if f.Path == "." {
			continue
		}
		if f.Mode&syscall.S_IFMT != syscall.S_IFDIR && !keep["/"+f.Path] {
			if err := os.Remove(filepath.Join(rootfs, f.Path)); err != nil {
				return nil
			}
			gone[i] = true
			continue
		}
		children[path.Dir(f.Path)]++
	}
	// Reverse walk order visits every directory after its contents.
	for i := len(files) - 1; i >= 0; i-- {
		f := files[i]
		if f.Path == "." || gone[i] || f.Mode&syscall.S_IFMT != syscall.S_IFDIR || keep["/"+f.Path] || children[f.Path] > 0 {
			continue
		}
		if err := os.Remove(filepath.Join(rootfs, f.Path)); err != nil {
			return nil
		}
		gone[i] = true
		children[path.Dir(f.Path)]--
	}
	out := make([]tarsafe.FileRecord, 0, len(files))
	for i, f := range files {
		if !gone[i] {
			out = append(out, f)
		}
	}
	return out
}

func applyWhitelist(rootfs string, whitelist []string) error {
	keep := map[string]bool{}
	for _, p := range whitelist {
		keep[filepath.Clean("/"+p)] = true
	}
	var dirs []string
	err := filepath.WalkDir(rootfs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, rootfs), "/")
		if rel == "/" {
			return nil
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		if !keep[filepath.Clean(rel)] {
			return os.Remove(p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("applying pathWhitelist: %w", err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		rel := filepath.Clean("/" + strings.TrimPrefix(dirs[i], rootfs))
		if !keep[rel] {
			os.Remove(dirs[i]) // fails, as wanted, when not empty
		}
	}
	return nil
}

// Install makes stage (built by Build) the tree id of image topKey,
// hashing it with Hash. The caller holds the tree's exclusive lock. When a
// complete tree is already there, stage is removed instead. It returns the
// tree's size in bytes, as DirSize counts it.
func (s *Store) Install(stage, id, topKey string) (int64, error) {
	if !ValidID(id) {
		return 0, fmt.Errorf("installing tree %q: invalid tree ID", id)
	}
	if s.IsRendered(id) {
		os.RemoveAll(stage)
		return DirSize(s.Path(id))
	}
	sum, size, err := Hash(stage)
	if err != nil {
		return 0, fmt.Errorf("installing tree %s: %w", id, err)
	}
	return s.InstallHashed(stage, id, topKey, Sum{Hash: sum, Size: size})
}

// InstallHashed is Install for a stage whose Sum is known (from
// BuildHashed or Finish): no file is read back, only the tree's entries
// stat'ed for its DirSize. When a complete tree is already there, stage is
// removed and its size returned (the same chain renders the same tree).
func (s *Store) InstallHashed(stage, id, topKey string, sum Sum) (int64, error) {
	if !ValidID(id) {
		return 0, fmt.Errorf("installing tree %q: invalid tree ID", id)
	}
	final := s.Path(id)
	if s.IsRendered(id) {
		os.RemoveAll(stage)
		return DirSize(final)
	}
	if err := atomicfile.WriteFile(filepath.Join(stage, hashFile), []byte(sum.Hash+"\n"), 0o640); err != nil {
		return 0, fmt.Errorf("installing tree %s: %w", id, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(stage, imageFile), []byte(topKey+"\n"), 0o640); err != nil {
		return 0, fmt.Errorf("installing tree %s: %w", id, err)
	}
	if err := syncFS(stage); err != nil {
		return 0, fmt.Errorf("installing tree %s: %w", id, err)
	}
	if err := os.RemoveAll(final); err != nil { // an incomplete leftover
		return 0, fmt.Errorf("installing tree %s: removing incomplete tree: %w", id, err)
	}
	if err := os.Rename(stage, final); err != nil {
		return 0, fmt.Errorf("installing tree %s: %w", id, err)
	}
	if err := atomicfile.SyncDir(s.dir); err != nil {
		return 0, fmt.Errorf("installing tree %s: %w", id, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(final, renderedFile), nil, 0o640); err != nil {
		return 0, fmt.Errorf("installing tree %s: %w", id, err)
	}
	return DirSize(final)
}

// DirSize is the size of the tree under dir as rkt 1.30 counted a rendered
// tree for `rkt image list`: the lstat size of every entry, directories
// (their own size on the filesystem) and symlinks (the length of their
// target) included, a file with several hard links once.
func DirSize(dir string) (int64, error) {
	seen := map[uint64]bool{}
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		total += fi.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("measuring tree %s: %w", dir, err)
	}
	return total, nil
}

func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncing file system of %s: %w", dir, err)
	}
	return nil
}

// Remove deletes the tree; the caller holds its exclusive lock.
func (s *Store) Remove(id string) error {
	if !ValidID(id) {
		return fmt.Errorf("removing tree %q: invalid tree ID", id)
	}
	p := s.Path(id)
	if err := os.Remove(filepath.Join(p, renderedFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing tree %s: %w", id, err)
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("removing tree %s: %w", id, err)
	}
	return nil
}

// Verify recomputes the tree's hash and compares it with the recorded one.
// A hash recorded in the previous format (per-file SHA-512, no version
// prefix) is checked with that format and, when it matches, replaced by
// the current one; a hash in a format it does not know gives
// ErrUnknownHash: the tree has to be rendered again, it is not known to be
// corrupt.
func (s *Store) Verify(id string) error {
	if !s.IsRendered(id) {
		return fmt.Errorf("verifying tree %s: %w", id, ErrNotRendered)
	}
	b, err := os.ReadFile(filepath.Join(s.Path(id), hashFile))
	if err != nil {
		return fmt.Errorf("verifying tree %s: %w", id, err)
	}
	want := strings.TrimSpace(string(b))
	legacy := isLegacyHash(want)
	if !legacy && !strings.HasPrefix(want, HashVersion) {
		return fmt.Errorf("verifying tree %s: %w", id, ErrUnknownHash)
	}
	got, old, _, err := hashTree(s.Path(id), legacy)
	if err != nil {
		return fmt.Errorf("verifying tree %s: %w", id, err)
	}
	if legacy {
		if old != want {
			return fmt.Errorf("verifying tree %s: %w", id, ErrTreeCorrupt)
		}
		// Best effort: a read-only store keeps verifying the old way.
		atomicfile.WriteFile(filepath.Join(s.Path(id), hashFile), []byte(got+"\n"), 0o640)
		return nil
	}
	if got != want {
		return fmt.Errorf("verifying tree %s: %w", id, ErrTreeCorrupt)
	}
	return nil
}

// HashVersion starts every tree hash of the current format.
const HashVersion = "v2:"

// isLegacyHash reports whether h is a hash of the first format:
// "sha512-" and 128 hex digits, no version.
func isLegacyHash(h string) bool {
	rest, ok := strings.CutPrefix(h, "sha512-")
	if !ok || len(rest) != 128 {
		return false
	}
	_, err := hex.DecodeString(rest)
	return err == nil
}

// Hash digests a tree directory: HashVersion, then "sha512-" and the hex
// SHA-512 of a text that holds the SHA-256 of the manifest and, for each
// entry of a walk of rootfs/ in lexical order, one line with its path,
// st_mode (type and permission bits), uid, gid, size (regular files),
// and the SHA-256 of the content (regular files), the target (symlinks)
// or major:minor (devices). Mtimes are left out. It also returns the total
// size of the regular files. HashFiles gives the same value from an
// extractor's records.
func Hash(dir string) (string, int64, error) {
	sum, _, size, err := hashTree(dir, false)
	return sum, size, err
}

// HashFiles computes Hash from the manifest's content and the records of
// rootfs (in walk order, see tarsafe.WalkLess), without reading the tree.
func HashFiles(manifest []byte, files []tarsafe.FileRecord) (string, int64) {
	h := newHasher()
	ms := sha256.Sum256(manifest)
	h.manifest(ms[:])
	var total int64
	for _, f := range files {
		extra := ""
		switch f.Mode & syscall.S_IFMT {
		case syscall.S_IFREG:
			total += f.Size
			extra = hex.EncodeToString(f.SHA256[:])
		case syscall.S_IFLNK:
			extra = f.Link
		case syscall.S_IFCHR, syscall.S_IFBLK:
			extra = devString(f.Rdev)
		}
		h.entry(f.Path, f.Mode, f.Uid, f.Gid, sizeOf(f.Mode, f.Size), extra)
	}
	return h.sum(), total
}

type hasher struct {
	h hash.Hash
	b []byte
}

func newHasher() *hasher { return &hasher{h: sha512.New()} }

func (h *hasher) manifest(sum []byte) {
	h.b = append(h.b[:0], "manifest "...)
	h.b = hex.AppendEncode(h.b, sum)
	h.b = append(h.b, '\n')
	h.h.Write(h.b)
}

func (h *hasher) entry(rel string, mode, uid, gid uint32, size int64, extra string) {
	h.b = fmt.Appendf(h.b[:0], "%q %o %d %d %d %q\n", rel, mode, uid, gid, size, extra)
	h.h.Write(h.b)
}

func (h *hasher) sum() string {
	return HashVersion + "sha512-" + hex.EncodeToString(h.h.Sum(nil))
}

func devString(rdev uint64) string {
	return fmt.Sprintf("%d:%d", unix.Major(rdev), unix.Minor(rdev))
}

func sizeOf(mode uint32, size int64) int64 {
	if mode&syscall.S_IFMT == syscall.S_IFREG {
		return size
	}
	return 0
}

// hashTree walks dir once and returns its Hash and, when legacy is set,
// its hash in the first format (per-file SHA-512, Go file modes).
func hashTree(dir string, legacy bool) (sum, legacySum string, total int64, err error) {
	h := newHasher()
	var old hash.Hash
	if legacy {
		old = sha512.New()
	}
	buf := make([]byte, 1<<20)
	s256 := sha256.New()
	s512 := sha512.New()
	fileSum := func(p string) error {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		s256.Reset()
		s512.Reset()
		for {
			n, err := io.ReadFull(f, buf)
			if n > 0 {
				s256.Write(buf[:n])
				if legacy {
					s512.Write(buf[:n])
				}
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	if err := fileSum(filepath.Join(dir, tarsafe.ManifestName)); err != nil {
		return "", "", 0, fmt.Errorf("hashing tree: %w", err)
	}
	h.manifest(s256.Sum(nil))
	if legacy {
		fmt.Fprintf(old, "manifest %s\n", hex.EncodeToString(s512.Sum(nil)))
	}
	rootfs := filepath.Join(dir, tarsafe.RootfsName)
	err = filepath.WalkDir(rootfs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		rel, _ := filepath.Rel(rootfs, p)
		extra, oldExtra := "", ""
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFREG:
			total += st.Size
			if err := fileSum(p); err != nil {
				return err
			}
			extra = hex.EncodeToString(s256.Sum(nil))
			if legacy {
				oldExtra = hex.EncodeToString(s512.Sum(nil))
			}
		case syscall.S_IFLNK:
			if extra, err = os.Readlink(p); err != nil {
				return err
			}
			oldExtra = extra
		case syscall.S_IFCHR, syscall.S_IFBLK:
			extra = devString(st.Rdev)
			oldExtra = extra
		}
		h.entry(filepath.ToSlash(rel), st.Mode, st.Uid, st.Gid, sizeOf(st.Mode, st.Size), extra)
		if legacy {
			fmt.Fprintf(old, "%q %o %d %d %d %q\n", rel, uint32(fi.Mode()), st.Uid, st.Gid, sizeOf(st.Mode, st.Size), oldExtra)
		}
		return nil
	})
	if err != nil {
		return "", "", 0, fmt.Errorf("hashing tree: %w", err)
	}
	if legacy {
		legacySum = "sha512-" + hex.EncodeToString(old.Sum(nil))
	}
	return h.sum(), legacySum, total, nil
}
