package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/flock"
)

// downloadLocksDir holds one lock file per download source:
//
//	<dir>/cas/downloadlocks/<sha256 of the source, hex>
//
// A fetcher holds the lock of a source from before its request until the
// image it downloaded is committed (or refused), so that processes fetching
// one source take turns and the later ones can use what the first stored.
const downloadLocksDir = "downloadlocks"

// downloadLockPoll is how often a waiter retries a held download lock; it
// polls rather than blocks so that its context can end the wait.
const downloadLockPoll = 50 * time.Millisecond

// LockDownload takes the exclusive lock of one download source (an image
// URL), waiting while another process holds it. waited reports that another
// holder had it when asked: that holder may have just stored the image, so
// the caller should look in the store again. onWait, when not nil, is
// called once when the wait starts. Closing the returned lock releases it.
func (s *Store) LockDownload(ctx context.Context, source string, onWait func()) (l io.Closer, waited bool, err error) {
	sum := sha256.Sum256([]byte(source))
	dir := filepath.Join(s.casDir, downloadLocksDir)
	// Group-writable, as the other lock directories: members of group rkt
	// fetch too (see tmpfiles.d/rkt.conf).
	if err := atomicfile.MkdirAll(dir, dirPerm); err != nil {
		return nil, false, fmt.Errorf("locking download of %s: %w", source, err)
	}
	path := filepath.Join(dir, hex.EncodeToString(sum[:]))
	var tick *time.Ticker
	for {
		lk, err := flock.LockPath(path, flock.Exclusive, false, true)
		if err == nil {
			if tick != nil {
				tick.Stop()
			}
			return lk, waited, nil
		}
		if !errors.Is(err, flock.ErrLocked) {
			return nil, waited, fmt.Errorf("locking download of %s: %w", source, err)
		}
		if !waited {
			waited = true
			tick = time.NewTicker(downloadLockPoll)
			if onWait != nil {
				onWait()
			}
		}
		select {
		case <-ctx.Done():
			tick.Stop()
			return nil, waited, fmt.Errorf("waiting for another download of %s: %w", source, ctx.Err())
		case <-tick.C:
		}
	}
}
