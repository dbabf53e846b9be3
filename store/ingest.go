package store

import (
	"bufio"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/appc/spec/schema"
	"github.com/rkt/rkt/common/acimanifest"
	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/common/tarsafe"
	"github.com/rkt/rkt/store/index"
	"github.com/rkt/rkt/store/tree"
)

// Ingest is one image being written into the store. The caller writes the
// uncompressed tar; each Write feeds the sha512, a temp blob file and (via
// a pipe) the tar checker-extractor goroutine, which builds a temp tree as
// the bytes arrive:
//
//	Write ──┬─ sha512
//	        ├─ tmp/.tmp-store-X/blob
//	        └─ pipe ─> tarsafe.Extract ─> tmp/.tmp-store-X/tree/{manifest,rootfs/}
//
// The extractor hashes each file as it writes it (tarsafe.Options.Record),
// so Commit installs the tree without reading it back.
//
// The whole stream is bounded by the store's Limits (size, entries, and
// the free-space floor, checked every freeCheckEvery bytes), so a
// decompression bomb stops at the limit with a *tarsafe.LimitError or a
// *FreeSpaceError. A fetcher spools the bytes as fetched first (NewSpool)
// and feeds the ingest only once their signature is verified; when they
// are a plain tar, the spool becomes the blob (SpoolIsBlob).
//
// Finish ends the stream and validates the manifest; Commit moves
// everything into place; Abort (always safe to defer) removes the temps.
type Ingest struct {
	s    *Store
	area *tempArea
	blob *os.File
	bw   *tarsafe.SparseWriter
	sum  hash.Hash
	pw   *io.PipeWriter
	pr   *io.PipeReader
	size int64

	treeDir string
	started bool // the extractor runs
	// noTree: the image is only checked, not extracted (NoTree).
	noTree  bool
	digests []tarsafe.Digest

	limits Limits
	next   int64 // size at which to look at the free space again
	spool  *Spool
	// spoolIsBlob: the spool holds the uncompressed tar, hashed into sum
	// already; Write feeds only the extractor.
	spoolIsBlob bool

	done   chan struct{}
	res    *tarsafe.Result
	extErr error

	pending  *Pending
	manifest []byte
	finished bool
	closed   bool // committed or aborted
	err      error
}

// Pending is an ingested image, checked but not yet visible.
type Pending struct {
	Key      string // sha512-<64 hex> of the uncompressed tar
	Manifest *schema.ImageManifest
	Size     int64
	Digest   hash.Hash // the sha512 state over the tar, before Sum (BinaryMarshaler)
}

// ImportMeta is what Commit records beside the image.
type ImportMeta struct {
	Latest bool          // imported by name without a version: wins FindByName
	Remote *index.Remote // optional HTTP cache row; BlobKey is set by Commit
	// RegistryReference and ManifestDigest go into the row of an image
	// converted from an OCI image (index.Image).
	RegistryReference, ManifestDigest string
}

const bufSize = 1 << 20

// NewIngest starts an ingest in a fresh temp area.
func (s *Store) NewIngest() (*Ingest, error) {
	lim := s.limits
	if err := lim.checkFree(s.tmpDir, 0); err != nil {
		return nil, fmt.Errorf("starting ingest: %w", err)
	}
	area, err := newTempArea(s.tmpDir)
	if err != nil {
		return nil, fmt.Errorf("starting ingest: %w", err)
	}
	blob, err := os.Create(filepath.Join(area.dir, "blob"))
	if err != nil {
		area.remove()
		return nil, fmt.Errorf("starting ingest: %w", err)
	}
	treeDir := filepath.Join(area.dir, "tree")
	if err := os.Mkdir(treeDir, 0o755); err != nil {
		blob.Close()
		area.remove()
		return nil, fmt.Errorf("starting ingest: %w", err)
	}
	pr, pw := io.Pipe()
	in := &Ingest{
		s:       s,
		area:    area,
		blob:    blob,
		bw:      tarsafe.NewSparseWriter(blob, bufSize),
		sum:     sha512.New(),
		pw:      pw,
		pr:      pr,
		treeDir: treeDir,
		done:    make(chan struct{}),
		limits:  lim,
	}
	return in, nil
}

// start starts the extractor, at the first byte written (or at Finish),
// so that the options of the extraction can still be set before.
func (in *Ingest) start() {
	if in.started {
		return
	}
	in.started = true
	opts := tarsafe.Options{Record: true, Limits: in.limits.tarLimits(), Digests: in.digests}
	go func() {
		defer close(in.done)
		br := bufio.NewReaderSize(in.pr, bufSize)
		var res *tarsafe.Result
		var err error
		if in.noTree {
			res, err = tarsafe.CheckLayer(br, opts.Limits)
		} else {
			res, err = tarsafe.Extract(br, in.treeDir, opts)
		}
		if err == nil {
			// Padding after the end-of-archive marker still belongs to
			// the blob: keep reading until the writer closes.
			_, err = io.Copy(io.Discard, br)
		}
		in.res, in.extErr = res, err
		in.pr.CloseWithError(err)
	}()
}

// NoTree says that the image is a layer of other images (one converted
// from an OCI layer) and is never run alone: its entries are checked by
// the same rules and limits but not extracted (a hardlink may name a file
// of the layers below it, tarsafe.CheckLayer), and Commit installs no
// tree for it. The tree of an image depending on it is rendered from the
// blobs, each layer extracted once (Render). Call it before the first
// Write.
func (in *Ingest) NoTree() error {
	if in.started || in.finished || in.closed {
		return fmt.Errorf("ingesting image: %w", ErrIngestDone)
	}
	in.noTree = true
	return nil
}

// TarLimits are the per-entry limits the ingest will apply, for a first
// pass over the same bytes (tarsafe.Prehash).
func (in *Ingest) TarLimits() tarsafe.Limits { return in.limits.tarLimits() }

// UseDigests gives the extraction the digests of the image's regular
// files, computed by tarsafe.Prehash over the same bytes, so it does not
// hash them again. Call it before the first Write.
func (in *Ingest) UseDigests(d []tarsafe.Digest) error {
	if in.started || in.finished || in.closed {
		return fmt.Errorf("ingesting image: %w", ErrIngestDone)
	}
	in.digests = d
	return nil
}

// Write feeds the next bytes of the uncompressed tar.
func (in *Ingest) Write(p []byte) (int, error) {
	if in.finished || in.closed {
		return 0, ErrIngestDone
	}
	if in.err != nil {
		return 0, in.err
	}
	in.start()
	if max := in.limits.MaxImageSize; max > 0 && in.size+int64(len(p)) > max {
		in.err = fmt.Errorf("ingesting image: %w", &tarsafe.LimitError{Limit: tarsafe.LimitSize, Max: max})
		return 0, in.err
	}
	if in.size >= in.next {
		// Until the next look, the tree grows by at most what is fed,
		// and so does the blob unless the spool is the blob.
		ahead := freeCheckEvery + int64(len(p))
		if !in.spoolIsBlob {
			ahead *= 2
		}
		if err := in.limits.checkFree(in.s.tmpDir, ahead); err != nil {
			in.err = fmt.Errorf("ingesting image: %w", err)
			return 0, in.err
		}
		in.next = in.size + freeCheckEvery
	}
	if !in.spoolIsBlob {
		in.sum.Write(p)
		if _, err := in.bw.Write(p); err != nil {
			in.err = fmt.Errorf("ingesting image: writing temp blob: %w", err)
			return 0, in.err
		}
	}
	if _, err := in.pw.Write(p); err != nil {
		<-in.done
		if in.extErr != nil {
			err = in.extErr
		}
		in.err = fmt.Errorf("ingesting image: %w", err)
		return 0, in.err
	}
	in.size += int64(len(p))
	return len(p), nil
}

// Finish ends the stream: it waits for the extractor, makes the temp blob
// durable and validates the manifest.
func (in *Ingest) Finish() (*Pending, error) {
	if in.finished || in.closed {
		return nil, ErrIngestDone
	}
	in.finished = true
	in.start()
	in.pw.Close()
	<-in.done
	if in.err != nil {
		return nil, in.err
	}
	if in.extErr != nil {
		in.err = fmt.Errorf("ingesting image: %w", in.extErr)
		return nil, in.err
	}
	if in.spoolIsBlob {
		if err := in.adoptSpool(); err != nil {
			return nil, fmt.Errorf("ingesting image: %w", err)
		}
	} else {
		if err := in.bw.Close(); err != nil {
			return nil, fmt.Errorf("ingesting image: writing temp blob: %w", err)
		}
		if err := in.blob.Sync(); err != nil {
			return nil, fmt.Errorf("ingesting image: syncing temp blob: %w", err)
		}
		if err := in.blob.Close(); err != nil {
			return nil, fmt.Errorf("ingesting image: closing temp blob: %w", err)
		}
	}
	if in.res.Manifest == nil {
		return nil, fmt.Errorf("ingesting image: %w", ErrNoManifest)
	}
	if in.noTree {
		if !in.res.Rootfs {
			return nil, fmt.Errorf("ingesting image: %w", ErrNoRootfs)
		}
	} else if fi, err := os.Lstat(filepath.Join(in.area.dir, "tree", tarsafe.RootfsName)); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("ingesting image: %w", ErrNoRootfs)
	}
	var im schema.ImageManifest
	if err := acimanifest.UnmarshalImage(in.res.Manifest, &im); err != nil {
		return nil, fmt.Errorf("ingesting image: %w: %v", ErrInvalidManifest, err)
	}
	if err := checkManifest(in.res.Manifest, &im); err != nil {
		return nil, fmt.Errorf("ingesting image: %w", err)
	}
	full := in.sum.Sum(nil)
	in.manifest = in.res.Manifest
	in.pending = &Pending{
		Key:      "sha512-" + hex.EncodeToString(full[:32]),
		Manifest: &im,
		Size:     in.size,
		Digest:   in.sum,
	}
	return in.pending, nil
}

// Commit makes the finished, verified image visible: intent recorded,
// blob and manifest into place, tree installed (images without
// dependencies, unless NoTree; the others are rendered by Render), index
// row written last, intent removed. The temps are removed. On failure, or on a kill
// (through the next Open), nothing of the image is left unless it already
// had a row.
func (in *Ingest) Commit(meta ImportMeta) (key string, retErr error) {
	if in.closed {
		return "", ErrIngestDone
	}
	if in.pending == nil {
		return "", fmt.Errorf("committing image: %w", errors.New("ingest not finished"))
	}
	defer in.Abort()
	s, p := in.s, in.pending
	l, err := s.lockImage(p.Key, true)
	if err != nil {
		return "", fmt.Errorf("committing image %s: %w", p.Key, err)
	}
	defer l.Close()
	if err := s.writeIntent(p.Key, intentCommit); err != nil {
		return "", fmt.Errorf("committing image %s: %w", p.Key, err)
	}
	defer func() {
		if retErr != nil {
			// Undo at once what the next Open would sweep: without a
			// row, the files just placed are orphans.
			s.undoKey(p.Key, true)
		}
	}()
	commitStep("intent")
	if err := s.cas.PutManifest(p.Key, in.manifest); err != nil {
		return "", fmt.Errorf("committing image %s: %w", p.Key, err)
	}
	commitStep("manifest")
	if err := s.cas.CommitBlob(filepath.Join(in.area.dir, "blob"), p.Key); err != nil {
		return "", fmt.Errorf("committing image %s: %w", p.Key, err)
	}
	commitStep("blob")
	var treeSize int64
	if len(p.Manifest.Dependencies) == 0 && s.ownsTrees && !in.noTree {
		id := tree.ID(p.Key)
		tl, err := s.trees.Lock(id, flock.Exclusive, true)
		if err != nil {
			return "", fmt.Errorf("committing image %s: %w", p.Key, err)
		}
		stage := filepath.Join(in.area.dir, "tree")
		var sum tree.Sum
		sum, err = tree.Finish(stage, in.res, p.Manifest.PathWhitelist)
		if err == nil {
			treeSize, err = s.trees.InstallHashed(stage, id, p.Key, sum)
		}
		tl.Close()
		if err != nil {
			return "", fmt.Errorf("committing image %s: %w", p.Key, err)
		}
		commitStep("tree")
	}
	now := s.now()
	img := index.Image{
		Key:           p.Key,
		Name:          p.Manifest.Name.String(),
		Labels:        map[string]string{},
		ImportTime:    now,
		LastUsed:      now,
		Latest:        meta.Latest,
		Size:          p.Size,
		TreeStoreSize: treeSize,

		RegistryReference: meta.RegistryReference,
		ManifestDigest:    meta.ManifestDigest,
	}
	for _, lb := range p.Manifest.Labels {
		img.Labels[lb.Name.String()] = lb.Value
	}
	_, img.Layer = p.Manifest.Annotations.Get(AnnLayer)
	if old, err := s.idx.Image(p.Key); err == nil && treeSize == 0 {
		img.TreeStoreSize = old.TreeStoreSize
	}
	if err := s.idx.PutImage(img); err != nil {
		return "", fmt.Errorf("committing image %s: %w", p.Key, err)
	}
	if meta.Remote != nil {
		r := *meta.Remote
		r.BlobKey = p.Key
		if err := s.idx.PutRemote(r); err != nil {
			return "", fmt.Errorf("committing image %s: %w", p.Key, err)
		}
	}
	commitStep("row")
	if err := s.removeIntent(p.Key); err != nil {
		return "", fmt.Errorf("committing image %s: %w", p.Key, err)
	}
	in.closed = true
	in.cleanup()
	return p.Key, nil
}

// commitStep is called after each step of Commit; tests set testHookCommit
// to kill the process there.
func commitStep(step string) {
	if testHookCommit != nil {
		testHookCommit(step)
	}
}

// testHookCommit is nil outside tests.
var testHookCommit func(step string)

// Abort stops the ingest and removes its temps; it is a no-op after
// Commit or a previous Abort.
func (in *Ingest) Abort() {
	if in.closed {
		return
	}
	in.closed = true
	in.pw.CloseWithError(errors.New("ingest aborted"))
	if in.started {
		<-in.done
	}
	in.cleanup()
}

func (in *Ingest) cleanup() {
	in.blob.Close()
	in.spool.close()
	in.area.remove()
}

// SpoolIsBlob says that the spool holds the uncompressed tar itself and
// that digest is the sha512 state over all of it: the ingest then neither
// hashes nor writes a blob, and Finish makes the spool the blob. Call it
// before the first Write, with the spool complete.
func (in *Ingest) SpoolIsBlob(digest hash.Hash) error {
	if in.spool == nil || in.size > 0 || in.finished || in.closed {
		return fmt.Errorf("ingesting image: %w", ErrIngestDone)
	}
	in.spoolIsBlob = true
	in.sum = digest
	return nil
}

// adoptSpool makes the spool the temp blob, once the extractor has read
// exactly its bytes.
func (in *Ingest) adoptSpool() error {
	if in.size != in.spool.n {
		return fmt.Errorf("the extractor read %d bytes of the %d spooled", in.size, in.spool.n)
	}
	in.blob.Close()
	if err := in.spool.f.Sync(); err != nil {
		return fmt.Errorf("syncing temp blob: %w", err)
	}
	if err := os.Rename(in.spool.f.Name(), in.blob.Name()); err != nil {
		return fmt.Errorf("placing temp blob: %w", err)
	}
	return nil
}
