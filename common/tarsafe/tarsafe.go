// Package tarsafe checks and extracts ACI tar streams without ever writing
// outside the destination.
//
// An ACI is a tar whose top level holds exactly a regular file "manifest"
// and a directory "rootfs"; everything else lives under "rootfs/". The rules
// enforced on every entry, in both Check and Extract:
//
//   - the name must be local (filepath.IsLocal) and, once cleaned, be
//     "manifest", "rootfs" or "rootfs/...";
//   - "manifest" is a single regular file of at most MaxManifestSize bytes,
//     "rootfs" is a directory;
//   - symlink targets may be absolute or relative (they are interpreted
//     inside the image), but no later entry may be written through a
//     symlink whose target is absolute or leaves rootfs/;
//   - a hardlink must name an earlier regular file of the same archive,
//     unless Options.LowerLinks is set (an OCI layer extracted over the
//     layers below it): then it may also name a regular file that dest's
//     rootfs already holds when the entry is reached (never a directory,
//     symlink or device, and only through os.Root, so never outside);
//   - only regular files (GNU and PAX sparse ones included), directories,
//     symlinks, hardlinks, character and block devices and FIFOs are
//     accepted; whiteout names are not special;
//   - with Limits, the entries are at most MaxEntries and the sum of the
//     regular files' sizes at most MaxSize, counted from the headers before
//     anything of the entry is written; a sparse file counts its full
//     logical size, holes included (a *LimitError);
//   - a sparse entry's map must be sorted, not overlap, lie within the
//     logical size and cover exactly the data stored: Check reads sparse
//     entries as Extract does to find out, so it refuses what Extract
//     refuses.
//
// Regular files are written sparse: every 4 KiB block of zeros (the holes
// of a sparse entry, which the tar reader expands, and zero runs of plain
// files alike) is skipped rather than written, and the file is truncated
// to its length at the end. A 100 GiB sparse entry, once allowed by the
// limits, takes the disk space of its data only.
//
// Every refusal is an *EntryError. Extract writes rootfs entries through an
// os.Root opened on <dest>/rootfs, so even an entry that the checks above
// let through (for example, when layering an image over a tree holding
// another image's symlinks) cannot reach outside it. Mode, mtime and, when
// running as root, ownership and the "SCHILY.xattr." extended attributes of
// the safe set (see SafeXattr) are preserved; every other extended attribute
// is dropped. Device nodes need root and are skipped (and counted)
// otherwise.
//
// With Options.Record, Extract also describes the rootfs it wrote (one
// FileRecord per path, regular files with the SHA-256 of their content,
// hashed as they are written), so a caller can digest the tree without
// reading it back. The description is given only when it is exact: rootfs
// did not exist before, and no entry was written through a symlink.
//
// Extract does not fsync: the caller makes the tree durable (e.g. syncfs)
// before marking it complete.
package tarsafe

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// ManifestName is the image manifest's entry name.
	ManifestName = "manifest"
	// RootfsName is the directory that holds the image's files.
	RootfsName = "rootfs"
	// MaxManifestSize bounds the manifest kept in memory.
	MaxManifestSize = 16 << 20

	maxSymlinkHops = 40
	copyBufferSize = 1 << 20
)

// Result describes a checked or extracted archive.
type Result struct {
	Manifest       []byte // the manifest entry's content; nil when absent
	Entries        int    // entries accepted
	Size           int64  // total size of regular files under rootfs/
	SkippedDevices int    // device nodes not created for lack of privilege
	Rootfs         bool   // the archive has rootfs/ (its entry or one below it)

	// Files describes <dest>/rootfs as Extract left it, in walk order
	// (see WalkLess), when Options.Record was set and the description is
	// exact; nil otherwise (the caller then has to walk the tree).
	Files []FileRecord
}

// FileRecord is one path of an extracted rootfs, as lstat(2) reports it
// after extraction (device nodes that were skipped have none).
type FileRecord struct {
	Path   string   // slash-separated, relative to rootfs; "." is rootfs itself
	Mode   uint32   // st_mode: file type and permission bits
	Uid    uint32   // owner
	Gid    uint32   // group
	Size   int64    // regular files: content length; 0 otherwise
	SHA256 [32]byte // regular files: SHA-256 of the content
	Link   string   // symlinks: the target
	Rdev   uint64   // character and block devices: the device number
}

// Options adjust Extract.
type Options struct {
	// SkipManifest leaves <dest>/manifest unwritten; the manifest is still
	// read and returned in the Result. Used when layering dependencies.
	SkipManifest bool
	// Record fills Result.Files (when exact), hashing every regular file
	// as it is written.
	Record bool
	// Limits bound the archive; zero values mean no bound.
	Limits Limits
	// Digests, when not nil, are Prehash's digests of the same archive:
	// regular files are then not hashed again, and an archive whose
	// regular files do not match them in number and sizes is refused.
	Digests []Digest
	// LowerLinks lets a hardlink name a regular file that rootfs held
	// before this archive (one of the layers below an OCI layer) as
	// well as an earlier file of the archive. Check does not see dest:
	// CheckLayer accepts such links, and Extract refuses one whose target
	// is not a regular file of rootfs when it is reached.
	LowerLinks bool
	// Records, when not nil, carries the description of dest's rootfs
	// from one Extract to the next when images are layered into one
	// tree: the extraction updates it instead of starting anew (Record
	// is then implied, and Result.Files left nil; see Records.Files).
	Records *Records
}

// Records describes a rootfs built by several Extracts into the same
// dest, one layer after the other (Options.Records). Deletions the caller
// makes between two layers must be told with Removed. Files gives the
// description only while it is exact: nothing was written or removed
// through a symlink, and rootfs did not exist before the first layer.
type Records struct{ rec *recorder }

// NewRecords starts an empty description, for a dest without rootfs.
func NewRecords() *Records {
	return &Records{rec: &recorder{files: map[string]*record{}, exact: true, sum: sha256.New()}}
}

// Removed tells that rel (slash-separated, relative to rootfs), and all
// below it, was removed from rootfs by the caller. It is a no-op on nil.
func (r *Records) Removed(rel string) {
	if r == nil {
		return
	}
	rel = path.Clean(rel)
	if r.rec.throughSymlink(rel) {
		// The removal followed a symlink: another path went.
		r.rec.exact = false
		return
	}
	forgetTree(r.rec.files, rel)
}

// Files returns the records of rootfs in walk order, or nil when they are
// not exact (or no layer was extracted).
func (r *Records) Files() []FileRecord {
	if _, ok := r.rec.files["."]; !ok {
		return nil
	}
	return r.rec.result()
}

// Digest is the length and SHA-256 of one regular file's content.
type Digest struct {
	Size   int64
	SHA256 [32]byte
}

// Limits bound what an archive may hold, checked from the headers before
// an entry is written.
type Limits struct {
	// MaxSize bounds the sum of the regular files' logical sizes (sparse
	// files at their full length).
	MaxSize int64
	// MaxEntries bounds the number of entries.
	MaxEntries int
}

// WalkLess orders rootfs paths as a lexical directory walk visits them
// (filepath.WalkDir): "." first, then component by component, a
// directory immediately followed by its contents.
func WalkLess(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == ".":
		return -1
	case b == ".":
		return 1
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '/' {
			return -1
		}
		if cb == '/' {
			return 1
		}
		if ca < cb {
			return -1
		}
		return 1
	}
	return len(a) - len(b)
}

// Check reads an ACI tar from r up to its end-of-archive marker and
// applies every rule, and lim, without writing anything.
func Check(r io.Reader, lim Limits) (*Result, error) {
	return run(r, nil, lim, nil)
}

// CheckLayer is Check for an OCI layer, to be extracted over the layers
// below it with Options.LowerLinks: a hardlink may name a file that is
// not in the archive (its target is checked when it is extracted).
func CheckLayer(r io.Reader, lim Limits) (*Result, error) {
	return runWith(r, nil, lim, nil, true)
}

// Prehash is Check that also returns the digest of every regular file
// under rootfs/, in archive order, for Extract (Options.Digests) to use
// on the same bytes later. It writes nothing.
func Prehash(r io.Reader, lim Limits) ([]Digest, error) {
	p := &prehasher{sum: sha256.New(), buf: make([]byte, copyBufferSize), digests: []Digest{}}
	if _, err := run(r, nil, lim, p); err != nil {
		return nil, err
	}
	return p.digests, nil
}

type prehasher struct {
	sum     hash.Hash
	buf     []byte
	digests []Digest
}

func (p *prehasher) file(h *tar.Header, body io.Reader) error {
	p.sum.Reset()
	n, err := readBody(body, p.buf, func(b []byte, _ int64) error {
		p.sum.Write(b)
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading tar entry %q: %w", h.Name, err)
	}
	d := Digest{Size: n}
	p.sum.Sum(d.SHA256[:0])
	p.digests = append(p.digests, d)
	return nil
}

// Extract reads an ACI tar from r and writes it into dest, an existing
// directory: the manifest to <dest>/manifest and the files under
// <dest>/rootfs. Existing non-directory entries at the same path are
// replaced, so images can be layered into one tree. Bytes after the
// end-of-archive marker are left unread.
func Extract(r io.Reader, dest string, opts Options) (*Result, error) {
	root, err := os.OpenRoot(dest)
	if err != nil {
		return nil, fmt.Errorf("extracting into %s: %w", dest, err)
	}
	defer root.Close()
	x := &extractor{
		root:    root,
		opts:    opts,
		asRoot:  os.Geteuid() == 0,
		buf:     make([]byte, copyBufferSize),
		dirMeta: map[string]*tar.Header{},
		known:   map[string]bool{},
	}
	if opts.Records != nil {
		x.rec = opts.Records.rec
	} else if opts.Record {
		x.rec = &recorder{files: map[string]*record{}, exact: true, sum: sha256.New()}
	}
	defer x.close()
	res, err := run(r, x, opts.Limits, nil)
	if err != nil {
		return nil, err
	}
	if opts.Digests != nil && x.nextDigest != len(opts.Digests) {
		return nil, fmt.Errorf("extracting into %s: %w", dest, errDigests)
	}
	if err := x.finishDirs(); err != nil {
		return nil, err
	}
	res.SkippedDevices = x.skipped
	if x.rec != nil && x.rootfs != nil && opts.Records == nil {
		res.Files = x.rec.result()
	}
	return res, nil
}

func run(r io.Reader, x *extractor, lim Limits, pre *prehasher) (*Result, error) {
	return runWith(r, x, lim, pre, x != nil && x.opts.LowerLinks)
}

func runWith(r io.Reader, x *extractor, lim Limits, pre *prehasher, lowerLinks bool) (*Result, error) {
	tr := tar.NewReader(r)
	var checkBuf []byte // Check's buffer for reading sparse entries
	c := &checker{symlinks: map[string]string{}, regs: map[string]bool{}, lowerLinks: lowerLinks}
	res := &Result{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return res, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading tar: %w", err)
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := c.check(h)
		if err != nil {
			return nil, err
		}
		res.Entries++
		if name != ManifestName {
			res.Rootfs = true
		}
		if lim.MaxEntries > 0 && res.Entries > lim.MaxEntries {
			return nil, &LimitError{Limit: LimitEntries, Max: int64(lim.MaxEntries)}
		}
		if isReg(h.Typeflag) && name != ManifestName {
			if h.Size < 0 || lim.MaxSize > 0 && h.Size > lim.MaxSize-res.Size {
				return nil, &LimitError{Limit: LimitSize, Max: lim.MaxSize, Entry: h.Name}
			}
		}
		if name == ManifestName {
			if h.Size > MaxManifestSize {
				return nil, refuse(h.Name, fmt.Sprintf("manifest is larger than %d bytes", MaxManifestSize), nil)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("reading tar entry %q: %w", h.Name, err)
			}
			res.Manifest = b
			if x != nil && !x.opts.SkipManifest {
				if err := x.root.WriteFile(ManifestName, b, 0o644); err != nil {
					return nil, refuse(h.Name, "writing manifest", err)
				}
			}
			continue
		}
		if isReg(h.Typeflag) {
			res.Size += h.Size
			if pre != nil {
				if err := pre.file(h, tr); err != nil {
					return nil, err
				}
			} else if x == nil && isSparse(h) {
				// Only reading a sparse entry finds a map that does not
				// match its data (archive/tar checks the map's own order
				// and bounds in Next): read it as Extract does, so that
				// Check refuses what Extract refuses.
				if checkBuf == nil {
					checkBuf = make([]byte, copyBufferSize)
				}
				if _, err := readBody(tr, checkBuf, nil); err != nil {
					return nil, fmt.Errorf("reading tar entry %q: %w", h.Name, err)
				}
			}
		}
		if x != nil {
			if err := x.entry(h, name, tr); err != nil {
				return nil, err
			}
		}
	}
}

// isSparse: a GNU sparse entry, old ('S') or PAX (its "GNU.sparse."
// records, which archive/tar keeps in PAXRecords).
func isSparse(h *tar.Header) bool {
	if h.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// isReg: a regular file. archive/tar keeps the type of an old GNU sparse
// entry ('S') and expands its holes as zeros, like a PAX sparse one.
func isReg(t byte) bool { return t == tar.TypeReg || t == tar.TypeRegA || t == tar.TypeGNUSparse }

// checker applies the archive-level rules. It remembers the symlinks and
// regular files seen so far, so that writes through symlinks and hardlinks
// to unknown files are refused before anything touches the disk.
type checker struct {
	symlinks    map[string]string // cleaned entry name -> link target
	regs        map[string]bool   // cleaned names of regular files under rootfs/
	sawManifest bool
	// lowerLinks: a hardlink may name a file under rootfs/ that the
	// archive does not hold (Options.LowerLinks).
	lowerLinks bool
}

func (c *checker) check(h *tar.Header) (string, error) {
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeDir, tar.TypeSymlink, tar.TypeLink,
		tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return "", refuse(h.Name, fmt.Sprintf("unsupported entry type %q", h.Typeflag), nil)
	}
	if !filepath.IsLocal(h.Name) {
		return "", refuse(h.Name, "name is not local to the image", nil)
	}
	name := path.Clean(h.Name)
	switch {
	case name == ManifestName:
		if !isReg(h.Typeflag) {
			return "", refuse(h.Name, "manifest is not a regular file", nil)
		}
		if c.sawManifest {
			return "", refuse(h.Name, "second manifest in the image", nil)
		}
		c.sawManifest = true
		return name, nil
	case name == RootfsName:
		if h.Typeflag != tar.TypeDir {
			return "", refuse(h.Name, "rootfs is not a directory", nil)
		}
		return name, nil
	case strings.HasPrefix(name, RootfsName+"/"):
	default:
		return "", refuse(h.Name, "entry outside rootfs/ (only manifest and rootfs/ may be at the top)", nil)
	}
	if err := c.resolveParent(h.Name, name); err != nil {
		return "", err
	}
	delete(c.symlinks, name)
	delete(c.regs, name)
	switch h.Typeflag {
	case tar.TypeSymlink:
		if h.Linkname == "" {
			return "", refuse(h.Name, "symlink with an empty target", nil)
		}
		c.symlinks[name] = h.Linkname
	case tar.TypeLink:
		if !filepath.IsLocal(h.Linkname) {
			return "", refuse(h.Name, fmt.Sprintf("hardlink target %q leaves the image", h.Linkname), nil)
		}
		target := path.Clean(h.Linkname)
		if !c.regs[target] {
			if !c.lowerLinks || !strings.HasPrefix(target, RootfsName+"/") {
				return "", refuse(h.Name, fmt.Sprintf("hardlink target %q is not an earlier regular file of the image", h.Linkname), nil)
			}
			if _, ok := c.symlinks[target]; ok {
				return "", refuse(h.Name, fmt.Sprintf("hardlink target %q is a symlink of the image", h.Linkname), nil)
			}
			// A file of a lower layer: its parents must not pass
			// through this archive's escaping symlinks either.
			if err := c.resolveParent(h.Name, target); err != nil {
				return "", err
			}
		}
		c.regs[name] = true
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		c.regs[name] = true
	}
	return name, nil
}

// resolveParent follows, lexically, the symlinks of this archive that the
// entry's parent path passes through, and refuses the entry if one of them
// is absolute or leads outside rootfs/.
func (c *checker) resolveParent(raw, name string) error {
	if len(c.symlinks) == 0 {
		return nil
	}
	parts := strings.Split(path.Dir(name), "/")
	hops := 0
	cur := ""
	for i := 0; i < len(parts); i++ {
		if cur == "" {
			cur = parts[i]
		} else {
			cur += "/" + parts[i]
		}
		target, ok := c.symlinks[cur]
		if !ok {
			continue
		}
		if hops++; hops > maxSymlinkHops {
			return refuse(raw, "too many levels of symlinks", nil)
		}
		if path.IsAbs(target) {
			return refuse(raw, fmt.Sprintf("written through symlink %q with the absolute target %q", cur, target), nil)
		}
		next := path.Clean(path.Join(path.Dir(cur), target))
		if next != RootfsName && !strings.HasPrefix(next, RootfsName+"/") {
			return refuse(raw, fmt.Sprintf("written through symlink %q that leaves the image (target %q)", cur, target), nil)
		}
		parts = append(strings.Split(next, "/"), parts[i+1:]...)
		cur, i = "", -1
	}
	return nil
}

// extractor writes accepted entries under <dest>/rootfs through an os.Root.
type extractor struct {
	root    *os.Root
	rootfs  *os.Root
	opts    Options
	asRoot  bool
	buf     []byte
	dirs    []string               // directories in creation order
	dirMeta map[string]*tar.Header // their headers, applied last
	known   map[string]bool        // paths known to be directories (or symlinks to them)
	skipped int
	rec     *recorder // nil unless Options.Record

	nextDigest int // index in opts.Digests of the next regular file
}

func (x *extractor) close() {
	if x.rootfs != nil {
		x.rootfs.Close()
	}
}

func (x *extractor) openRootfs() error {
	if x.rootfs != nil {
		return nil
	}
	err := x.root.Mkdir(RootfsName, 0o755)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err != nil && x.rec != nil {
		if _, known := x.rec.files["."]; !known {
			x.rec.exact = false // layered over an earlier tree the records do not know
		}
	}
	fi, err := x.root.Lstat(RootfsName)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", RootfsName)
	}
	r, err := x.root.OpenRoot(RootfsName)
	if err != nil {
		return err
	}
	x.rootfs = r
	x.known["."] = true
	x.rec.stat(".", fromSys(fi), nil, "")
	return nil
}

func (x *extractor) entry(h *tar.Header, name string, body io.Reader) error {
	if err := x.openRootfs(); err != nil {
		return refuse(h.Name, "creating rootfs", err)
	}
	rel := "."
	if name != RootfsName {
		rel = strings.TrimPrefix(name, RootfsName+"/")
	}
	if err := x.write(h, rel, body); err != nil {
		var ee *EntryError
		if errors.As(err, &ee) {
			return err
		}
		return refuse(h.Name, "extracting", err)
	}
	return nil
}

func (x *extractor) write(h *tar.Header, rel string, body io.Reader) error {
	if err := x.ensureDir(path.Dir(rel)); err != nil {
		return err
	}
	switch h.Typeflag {
	case tar.TypeDir:
		return x.dir(h, rel)
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		return x.regular(h, rel, body)
	case tar.TypeSymlink:
		if err := x.create(rel, func() error { return x.rootfs.Symlink(h.Linkname, rel) }); err != nil {
			return err
		}
		return x.nodeMeta(h, rel, false)
	case tar.TypeLink:
		old := strings.TrimPrefix(path.Clean(h.Linkname), RootfsName+"/")
		if x.opts.LowerLinks {
			// The target may be a file of a lower layer: it must be
			// a regular file of rootfs now (not whited out, not a
			// directory, symlink or device); os.Root keeps the lookup
			// inside rootfs.
			fi, err := x.rootfs.Lstat(old)
			if err != nil || !fi.Mode().IsRegular() {
				return refuse(h.Name, fmt.Sprintf("hardlink target %q is not a regular file of this layer or the layers below it", h.Linkname), err)
			}
		}
		if err := x.create(rel, func() error { return x.rootfs.Link(old, rel) }); err != nil {
			return err
		}
		x.rec.link(old, rel)
		return nil
	default: // char, block, fifo
		return x.device(h, rel)
	}
}

// ensureDir makes sure dir exists as a directory, creating the missing
// ones with mode 0755. Directories already seen are not looked at again.
func (x *extractor) ensureDir(dir string) error {
	if x.known[dir] {
		return nil
	}
	if err := x.ensureDir(path.Dir(dir)); err != nil {
		return err
	}
	err := x.rootfs.Mkdir(dir, 0o755)
	if err == nil {
		x.known[dir] = true
		if x.rec != nil {
			fi, err := x.rootfs.Lstat(dir)
			if err != nil {
				return err
			}
			x.rec.stat(dir, fromSys(fi), nil, "")
		}
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := x.rootfs.Lstat(dir)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		// Written through a symlink (one that stays inside rootfs, or
		// the os.Root refuses): the records would name the wrong path.
		if fi, err = x.rootfs.Stat(dir); err != nil {
			return err
		}
		if x.rec != nil {
			x.rec.exact = false
		}
	}
	if !fi.IsDir() {
		return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
	}
	x.known[dir] = true
	return nil
}

// create runs mk, which creates rel exclusively; when something already
// stands at rel, it is removed and mk runs again.
func (x *extractor) create(rel string, mk func() error) error {
	err := mk()
	if err == nil || !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := x.clear(rel); err != nil {
		return err
	}
	return mk()
}

// clear removes what stands at rel (a whole directory tree included).
func (x *extractor) clear(rel string) error {
	fi, err := x.rootfs.Lstat(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		err = x.rootfs.RemoveAll(rel)
	} else {
		err = x.rootfs.Remove(rel)
	}
	if fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0 {
		forgetTree(x.known, rel)
		if x.rec != nil {
			forgetTree(x.rec.files, rel)
		}
	} else if x.rec != nil {
		delete(x.rec.files, rel)
	}
	return err
}

// forgetTree deletes p and every key below it.
func forgetTree[V any](m map[string]V, p string) {
	delete(m, p)
	prefix := p + "/"
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			delete(m, k)
		}
	}
}

func (x *extractor) dir(h *tar.Header, rel string) error {
	var err error
	if rel != "." { // rootfs itself exists already
		err = x.rootfs.Mkdir(rel, 0o755)
	}
	if errors.Is(err, fs.ErrExist) {
		var fi fs.FileInfo
		if fi, err = x.rootfs.Lstat(rel); err == nil && !fi.IsDir() {
			if err = x.clear(rel); err == nil {
				err = x.rootfs.Mkdir(rel, 0o755)
			}
		}
	}
	if err != nil {
		return err
	}
	x.known[rel] = true
	if _, seen := x.dirMeta[rel]; !seen {
		x.dirs = append(x.dirs, rel)
	}
	x.dirMeta[rel] = h
	if x.rec != nil {
		if _, ok := x.rec.files[rel]; !ok {
			x.rec.files[rel] = &record{} // filled in by finishDirs
		}
	}
	return nil
}

func (x *extractor) regular(h *tar.Header, rel string, body io.Reader) error {
	var f *os.File
	err := x.create(rel, func() (err error) {
		f, err = x.rootfs.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		return err
	})
	if err != nil {
		return err
	}
	defer f.Close()
	var sum hash.Hash
	var pre *Digest
	if x.opts.Digests != nil {
		if x.nextDigest >= len(x.opts.Digests) || x.opts.Digests[x.nextDigest].Size != h.Size {
			return errDigests
		}
		pre = &x.opts.Digests[x.nextDigest]
		x.nextDigest++
	} else if x.rec != nil {
		sum = x.rec.sum
		sum.Reset()
	}
	if err := copyFile(f, body, x.buf, sum); err != nil {
		return err
	}
	if err := x.fileMeta(f, h); err != nil {
		return err
	}
	if x.rec != nil {
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			return err
		}
		if pre != nil {
			x.rec.statDigest(rel, fromUnix(&st), pre.SHA256)
		} else {
			x.rec.stat(rel, fromUnix(&st), sum, "")
		}
	}
	return f.Close()
}

// copyFile copies body to f through buf, filling it before each write,
// and feeds sum (when not nil) the same bytes. Blocks of zeros become
// holes (see holeBlock). It never allocates.
func copyFile(f *os.File, body io.Reader, buf []byte, sum hash.Hash) error {
	var end int64 // end of the last write
	off, err := readBody(body, buf, func(b []byte, off int64) error {
		if sum != nil {
			sum.Write(b)
		}
		w, err := writeSparse(f, b, off)
		if w > 0 {
			end = w
		}
		return err
	})
	if err != nil {
		return err
	}
	if end < off {
		// The file ends in a hole: give it its length.
		return f.Truncate(off)
	}
	return nil
}

// readBody reads an entry's body to its end through buf, filling it before
// each call of fn (when not nil) with the bytes and their offset, and
// returns the number of bytes read. It is the one way Check, Prehash and
// Extract read a body, so archive/tar's errors about a sparse map that does
// not match its data (less or more data than the map's regions) reach all
// three alike.
func readBody(body io.Reader, buf []byte, fn func(b []byte, off int64) error) (int64, error) {
	var off int64
	for {
		n, err := io.ReadFull(body, buf)
		if n > 0 && fn != nil {
			if ferr := fn(buf[:n], off); ferr != nil {
				return off, ferr
			}
		}
		off += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return off, nil
		}
		if err != nil {
			return off, err
		}
	}
}

// holeBlock is the unit of hole detection: a block this long (at an offset
// that is a multiple of it) holding only zeros is not written.
const holeBlock = 4096

var zeroBlock [holeBlock]byte

// writeSparse writes p at off, skipping the zero blocks, and returns the
// offset just past the last byte written (0 when p was all zeros). off is
// a multiple of holeBlock: copyFile fills its buffer, a multiple of it,
// before each call.
func writeSparse(f *os.File, p []byte, off int64) (int64, error) {
	var end int64
	data := -1 // start of the pending run of data, -1 when none
	flush := func(to int) error {
		if data < 0 {
			return nil
		}
		if _, err := f.WriteAt(p[data:to], off+int64(data)); err != nil {
			return err
		}
		end = off + int64(to)
		data = -1
		return nil
	}
	for i := 0; i < len(p); i += holeBlock {
		j := min(i+holeBlock, len(p))
		if bytes.Equal(p[i:j], zeroBlock[:j-i]) {
			if err := flush(i); err != nil {
				return 0, err
			}
			continue
		}
		if data < 0 {
			data = i
		}
	}
	if err := flush(len(p)); err != nil {
		return 0, err
	}
	return end, nil
}

// fileMeta applies ownership, mode, xattrs and mtime to an open file or
// directory.
func (x *extractor) fileMeta(f *os.File, h *tar.Header) error {
	if x.asRoot {
		if err := f.Chown(h.Uid, h.Gid); err != nil {
			return err
		}
		for k, v := range h.PAXRecords {
			if attr, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok && SafeXattr(attr) {
				if err := unix.Fsetxattr(int(f.Fd()), attr, []byte(v), 0); err != nil {
					return fmt.Errorf("setting xattr %s: %w", attr, err)
				}
			}
		}
	}
	if err := f.Chmod(h.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		return err
	}
	return unix.Futimes(int(f.Fd()), []unix.Timeval{unix.NsecToTimeval(mtime(h).UnixNano()), unix.NsecToTimeval(mtime(h).UnixNano())})
}

// SafeXattr tells whether an image may carry the extended attribute name
// into a tree. Trees are the lower layers of the pods' overlays and are
// shared between pods, so attributes that the kernel or overlayfs
// interpret are refused:
//
//   - trusted.* (overlayfs's own trusted.overlay.* among them: an opaque or
//     redirect marker in a lower layer changes what the pod sees) and the
//     other security.* attributes (LSM labels, IMA/EVM) are dropped;
//   - user.overlay.* is dropped too: the pods' overlays are mounted with
//     userxattr, which makes overlayfs read its markers there;
//   - security.capability (file capabilities, as an image's ping carries
//     them) is kept: an app's capability bounding set still limits them;
//   - every other user.* attribute is kept.
func SafeXattr(name string) bool {
	switch {
	case name == "security.capability":
		return true
	case strings.HasPrefix(name, "user.overlay."):
		return false
	case strings.HasPrefix(name, "user."):
		return true
	}
	return false
}

// recorder keeps the FileRecords of an extraction. Its methods are no-ops
// on a nil recorder.
type recorder struct {
	files map[string]*record
	exact bool      // false once the records may differ from the disk
	sum   hash.Hash // SHA-256, reused for every file
}

type record struct {
	FileRecord
	filled bool
}

// statInfo is what a record keeps of a stat(2) result.
type statInfo struct {
	mode, uid, gid uint32
	size           int64
	rdev           uint64
}

func fromUnix(st *unix.Stat_t) statInfo {
	return statInfo{mode: st.Mode, uid: st.Uid, gid: st.Gid, size: st.Size, rdev: st.Rdev}
}

func fromSys(fi fs.FileInfo) statInfo {
	st := fi.Sys().(*syscall.Stat_t)
	return statInfo{mode: st.Mode, uid: st.Uid, gid: st.Gid, size: st.Size, rdev: st.Rdev}
}

// stat records rel from its lstat, with the content digest of a regular
// file and the target of a symlink.
func (r *recorder) stat(rel string, st statInfo, sum hash.Hash, link string) {
	if r == nil {
		return
	}
	fr := &record{filled: true, FileRecord: FileRecord{
		Path: rel, Mode: st.mode, Uid: st.uid, Gid: st.gid, Link: link,
	}}
	switch st.mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		fr.Size = st.size
		if sum != nil {
			sum.Sum(fr.SHA256[:0])
		} else {
			r.exact = false
		}
	case syscall.S_IFCHR, syscall.S_IFBLK:
		fr.Rdev = st.rdev
	}
	r.files[rel] = fr
}

// statDigest records the regular file rel with a digest computed before.
func (r *recorder) statDigest(rel string, st statInfo, d [32]byte) {
	if r == nil {
		return
	}
	r.files[rel] = &record{filled: true, FileRecord: FileRecord{
		Path: rel, Mode: st.mode, Uid: st.uid, Gid: st.gid, Size: st.size, SHA256: d,
	}}
}

// link records rel as a hardlink of the regular file old.
func (r *recorder) link(old, rel string) {
	if r == nil {
		return
	}
	src, ok := r.files[old]
	if !ok || !src.filled || src.Mode&syscall.S_IFMT != syscall.S_IFREG || r.throughSymlink(old) {
		r.exact = false
		return
	}
	cp := *src
	cp.Path = rel
	r.files[rel] = &cp
}

// throughSymlink reports whether a parent directory of rel is a symlink.
func (r *recorder) throughSymlink(rel string) bool {
	for d := path.Dir(rel); d != "."; d = path.Dir(d) {
		if f, ok := r.files[d]; ok && f.Mode&syscall.S_IFMT == syscall.S_IFLNK {
			return true
		}
	}
	return false
}

// result returns the records in walk order, or nil when not exact.
func (r *recorder) result() []FileRecord {
	if !r.exact {
		return nil
	}
	out := make([]FileRecord, 0, len(r.files))
	for _, f := range r.files {
		if !f.filled {
			return nil
		}
		out = append(out, f.FileRecord)
	}
	slices.SortFunc(out, func(a, b FileRecord) int { return WalkLess(a.Path, b.Path) })
	return out
}

func mtime(h *tar.Header) time.Time {
	if h.ModTime.IsZero() {
		return time.Unix(0, 0)
	}
	return h.ModTime
}

// parent opens the directory holding rel, for the *at system calls that
// os.Root does not offer.
func (x *extractor) parent(rel string) (*os.File, string, error) {
	d, err := x.rootfs.Open(path.Dir(rel))
	if err != nil {
		return nil, "", err
	}
	return d, path.Base(rel), nil
}

// nodeMeta sets ownership and mtime on a symlink or device node without
// following it, and the mode when chmod is set.
func (x *extractor) nodeMeta(h *tar.Header, rel string, chmod bool) error {
	d, base, err := x.parent(rel)
	if err != nil {
		return err
	}
	defer d.Close()
	fd := int(d.Fd())
	if x.asRoot {
		if err := unix.Fchownat(fd, base, h.Uid, h.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	if chmod {
		if err := unix.Fchmodat(fd, base, uint32(h.Mode&0o7777), 0); err != nil {
			return err
		}
	}
	ts := unix.NsecToTimespec(mtime(h).UnixNano())
	if err := unix.UtimesNanoAt(fd, base, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if x.rec != nil {
		var st unix.Stat_t
		if err := unix.Fstatat(fd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		link := ""
		if h.Typeflag == tar.TypeSymlink {
			link = h.Linkname
		}
		x.rec.stat(rel, fromUnix(&st), nil, link)
	}
	return nil
}

func (x *extractor) device(h *tar.Header, rel string) error {
	var kind uint32
	switch h.Typeflag {
	case tar.TypeChar:
		kind = unix.S_IFCHR
	case tar.TypeBlock:
		kind = unix.S_IFBLK
	default:
		kind = unix.S_IFIFO
	}
	d, base, err := x.parent(rel)
	if err != nil {
		return err
	}
	mknod := func() error {
		return unix.Mknodat(int(d.Fd()), base, kind|uint32(h.Mode&0o777), int(unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor))))
	}
	err = mknod()
	if errors.Is(err, fs.ErrExist) {
		if err = x.clear(rel); err == nil {
			err = mknod()
		}
	}
	d.Close()
	if errors.Is(err, unix.EPERM) && kind != unix.S_IFIFO && !x.asRoot {
		x.skipped++
		return nil
	}
	if err != nil {
		return err
	}
	return x.nodeMeta(h, rel, true)
}

// finishDirs applies directory metadata last (children change mtimes, and
// a read-only mode would stop children being written), deepest first.
func (x *extractor) finishDirs() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		rel := x.dirs[i]
		h := x.dirMeta[rel]
		fi, err := x.rootfs.Lstat(rel)
		if err != nil || !fi.IsDir() {
			continue // replaced by a later entry
		}
		f, err := x.rootfs.Open(rel)
		if err != nil {
			return refuse(h.Name, "extracting", err)
		}
		err = x.fileMeta(f, h)
		if err == nil && x.rec != nil {
			var st unix.Stat_t
			if err = unix.Fstat(int(f.Fd()), &st); err == nil {
				x.rec.stat(rel, fromUnix(&st), nil, "")
			}
		}
		f.Close()
		if err != nil {
			return refuse(h.Name, "extracting", err)
		}
	}
	return nil
}
