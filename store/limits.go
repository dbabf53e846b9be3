package store

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/tarsafe"
)

// Limits bound what one ingest may write. A zero field means no bound.
//
// MaxImageSize bounds the uncompressed tar as a whole and, separately, the
// sum of its files' sizes, sparse files counted at full length (so a 100
// GiB sparse entry in a 4 KiB tar is refused by the default). MaxFiles
// bounds its entries. The free-space floor is checked on the data dir's
// filesystem before an ingest starts and every freeCheckEvery bytes
// written (spooled or uncompressed) after: the ingest stops when less than
// max(MinFreeBytes, MinFreePercent% of the filesystem) would be left, where
// MinFreeBytes is first capped at MinFreeCapPercent% of the filesystem
// (when not 0). The default floor is so capped, so that on a small
// filesystem (under 10 GiB) it keeps 5% free instead of refusing every
// fetch; a configured minFreeSpace holds as given.
type Limits struct {
	MaxImageSize      int64
	MaxFiles          int
	MinFreeBytes      int64
	MinFreePercent    int
	MinFreeCapPercent int
}

// DefaultLimits apply unless the configuration (fetch.d) says otherwise.
var DefaultLimits = Limits{
	MaxImageSize:      16 << 30,
	MaxFiles:          1 << 20,
	MinFreeBytes:      512 << 20,
	MinFreePercent:    2,
	MinFreeCapPercent: 5,
}

// SetLimits replaces the limits of the ingests started after it.
func (s *Store) SetLimits(l Limits) { s.limits = l }

// freeCheckEvery is how often, in bytes fed to it, an ingest looks at the
// free space: often enough that the margin kept for the bytes until the
// next look is small, rarely enough that statfs(2) costs nothing
// measurable (75 calls for a 300 MiB image).
const freeCheckEvery = 4 << 20

// checkFree returns a *FreeSpaceError when the filesystem of dir has less
// free space (for unprivileged users: f_bavail) than the floor plus ahead,
// the most that may be written before the next look.
func (l Limits) checkFree(dir string, ahead int64) error {
	if l.MinFreeBytes <= 0 && l.MinFreePercent <= 0 {
		return nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("checking free space on %s: %w", dir, err)
	}
	if st.Blocks == 0 {
		// A filesystem without a size (ramfs) reports no free blocks
		// either: there is no floor to keep.
		return nil
	}
	avail := int64(st.Bavail) * st.Bsize
	percent := func(p int) int64 { return int64(st.Blocks) * st.Bsize / 100 * int64(p) }
	floor := l.MinFreeBytes
	if l.MinFreeCapPercent > 0 {
		floor = min(floor, percent(l.MinFreeCapPercent))
	}
	floor = max(floor, percent(l.MinFreePercent))
	if avail < floor+ahead {
		return &FreeSpaceError{Dir: dir, Avail: avail, Floor: floor}
	}
	return nil
}

// tarLimits are the limits tarsafe checks per entry.
func (l Limits) tarLimits() tarsafe.Limits {
	return tarsafe.Limits{MaxSize: l.MaxImageSize, MaxEntries: l.MaxFiles}
}

// Spool holds an image's bytes as fetched (compressed, unverified) in the
// ingest's temp area, so that its signature is checked before anything is
// decompressed: write it, verify, then read it back (from the page cache)
// through Reader. It goes with the ingest's temp area.
type Spool struct {
	in   *Ingest
	f    *os.File
	w    *tarsafe.SparseWriter
	n    int64
	next int64 // n at which to look at the free space again
}

// spoolSlack is what a compressed stream may add to its content (headers,
// incompressible blocks): the spool is bounded by MaxImageSize plus this.
func spoolLimit(max int64) int64 {
	if max <= 0 {
		return 0
	}
	return max + max/64 + 1<<20
}

// NewSpool creates the spool file of the ingest.
func (in *Ingest) NewSpool() (*Spool, error) {
	if in.spool != nil {
		return nil, fmt.Errorf("spooling image: %w", ErrIngestDone)
	}
	f, err := os.OpenFile(filepath.Join(in.area.dir, "fetched"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spooling image: %w", err)
	}
	in.spool = &Spool{in: in, f: f, w: tarsafe.NewSparseWriter(f, bufSize)}
	return in.spool, nil
}

// Write appends the next fetched bytes, within the limits.
func (sp *Spool) Write(p []byte) (int, error) {
	lim := sp.in.limits
	if max := spoolLimit(lim.MaxImageSize); max > 0 && sp.n+int64(len(p)) > max {
		return 0, fmt.Errorf("spooling image: %w", &tarsafe.LimitError{Limit: tarsafe.LimitSize, Max: lim.MaxImageSize})
	}
	if sp.n >= sp.next {
		if err := lim.checkFree(sp.in.s.tmpDir, freeCheckEvery+int64(len(p))); err != nil {
			return 0, fmt.Errorf("spooling image: %w", err)
		}
		sp.next = sp.n + freeCheckEvery
	}
	n, err := sp.w.Write(p)
	sp.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("spooling image: %w", err)
	}
	return n, nil
}

// Size is the number of bytes spooled.
func (sp *Spool) Size() int64 { return sp.n }

// Reader returns the spooled bytes from the start.
func (sp *Spool) Reader() (io.Reader, error) {
	if err := sp.w.Close(); err != nil {
		return nil, fmt.Errorf("spooling image: %w", err)
	}
	return io.NewSectionReader(sp.f, 0, sp.n), nil
}

func (sp *Spool) close() {
	if sp != nil {
		sp.f.Close()
	}
}
