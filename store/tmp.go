package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/flock"
)

// Temp areas under <dir>/tmp/: each live ingest or render owns
//
//	tmp/.tmp-store-<random>.lock   flock held exclusively for the area's life
//	tmp/.tmp-store-<random>/       its files (blob, tree/)
//
// The lock file is created and locked before the directory exists and is
// removed after it, so Open's sweep removes exactly the areas whose owner
// died: an area whose lock it can take, or a directory with no lock file.

const lockSuffix = ".lock"

// tempPrefix names the store's temp areas; other entries of tmp/ are left
// alone.
var tempPrefix = atomicfile.TempPrefix + "store-"

type tempArea struct {
	dir  string
	lock *flock.Lock
}

func newTempArea(tmpRoot string) (*tempArea, error) {
	var rnd [12]byte
	rand.Read(rnd[:])
	dir := filepath.Join(tmpRoot, tempPrefix+hex.EncodeToString(rnd[:]))
	l, err := flock.LockPath(dir+lockSuffix, flock.Exclusive, false, true)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		l.Close()
		os.Remove(dir + lockSuffix)
		return nil, err
	}
	return &tempArea{dir: dir, lock: l}, nil
}

func (t *tempArea) remove() {
	if t == nil || t.lock == nil {
		return
	}
	os.RemoveAll(t.dir)
	os.Remove(t.dir + lockSuffix)
	t.lock.Close()
	t.lock = nil
}

// sweepTmp removes the temp areas of dead owners.
func sweepTmp(tmpRoot string) error {
	ents, err := os.ReadDir(tmpRoot)
	if err != nil {
		return err
	}
	names := map[string]bool{}
	for _, e := range ents {
		names[e.Name()] = true
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, tempPrefix) {
			continue
		}
		p := filepath.Join(tmpRoot, name)
		if base, ok := strings.CutSuffix(name, lockSuffix); ok {
			l, err := flock.LockPath(p, flock.Exclusive, false, false)
			if errors.Is(err, flock.ErrLocked) || errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return err
			}
			os.RemoveAll(filepath.Join(tmpRoot, base))
			os.Remove(p)
			l.Close()
			continue
		}
		if !names[name+lockSuffix] {
			// No lock file: its owner is gone (the lock outlives the area).
			// Re-check, since a new owner creates its lock first.
			if _, err := os.Lstat(p + lockSuffix); errors.Is(err, os.ErrNotExist) {
				os.RemoveAll(p)
			}
		}
	}
	return nil
}
