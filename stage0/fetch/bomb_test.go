package fetch

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rkt/rkt/common/tarsafe"
	"github.com/rkt/rkt/stage0/insecure"
	"github.com/rkt/rkt/stage0/trust"
	"github.com/rkt/rkt/stage0/trust/trusttest"
	"github.com/rkt/rkt/store"
	"github.com/rkt/rkt/store/storetest"
)

// diskUse is the space allocated to the files under dir.
func diskUse(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		var st syscall.Stat_t
		if syscall.Lstat(p, &st) == nil {
			total += st.Blocks * 512
		}
		return nil
	})
	return total
}

// peakDiskUse runs fn while polling the disk use of dir, and returns the
// largest seen (including after fn returns).
func peakDiskUse(dir string, fn func()) int64 {
	var mu sync.Mutex
	var peak int64
	look := func() {
		u := diskUse(dir)
		mu.Lock()
		peak = max(peak, u)
		mu.Unlock()
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
				look()
			}
		}
	}()
	fn()
	close(stop)
	<-done
	look()
	return peak
}

// TestUnknownKeyBombDecompressesNothing: a bomb signed by a key trusted
// nowhere is refused from its spooled, compressed bytes; nothing of it is
// decompressed to disk.
func TestUnknownKeyBombDecompressesNothing(t *testing.T) {
	stranger := trusttest.NewKey(t, "Stranger <x@example.org>")
	for _, tc := range []struct {
		comp string
		size int64
	}{{"gzip", 256 << 20}, {"zstd", 1 << 30}} {
		t.Run(tc.comp, func(t *testing.T) {
			bomb := storetest.Bomb(t, "example.com/bomb", tc.size, tc.comp)
			e := newEnv(t)
			path := e.writeFile("bomb.aci", bomb)
			e.writeFile("bomb.aci.asc", stranger.Sign(t, bomb))
			data := filepath.Join(e.dir, "data")
			base := diskUse(data)
			var err error
			peak := peakDiskUse(data, func() {
				_, err = e.fetcher(nil, PullUpdate).Fetch(bg(), path, "")
			})
			var u *trust.UnknownSignerError
			if !errors.As(err, &u) {
				t.Fatalf("err = %v, want *trust.UnknownSignerError", err)
			}
			if grew := peak - base; grew > int64(len(bomb))+4<<20 {
				t.Fatalf("the data dir grew by %d MiB at its peak for a %d KiB bomb signed by an unknown key", grew>>20, len(bomb)>>10)
			}
			e.assertEmpty()
			assertNoTemps(t, data)
		})
	}
}

// assertNoTemps checks that the store's tmp area holds nothing.
func assertNoTemps(t *testing.T, data string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(data, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left in tmp/: %s", e.Name())
	}
}

// TestLimitsHoldForTrustedAndInsecure: a bomb signed by a trusted key, or
// fetched with --insecure-options=image, stops at the size limit, with an
// error naming it, having written little more than the limit.
func TestLimitsHoldForTrustedAndInsecure(t *testing.T) {
	key := trusttest.NewKey(t, "Bomber <b@example.com>")
	bomb := storetest.Bomb(t, "example.com/bomb", 512<<20, "zstd")
	const limit = 32 << 20
	for _, insecureImage := range []bool{false, true} {
		t.Run(map[bool]string{false: "trusted", true: "insecure"}[insecureImage], func(t *testing.T) {
			e := newEnv(t)
			e.trust("example.com/bomb", key)
			e.store.SetLimits(store.Limits{MaxImageSize: limit, MaxFiles: 100})
			path := e.writeFile("bomb.aci", bomb)
			e.writeFile("bomb.aci.asc", key.Sign(t, bomb))
			f := e.fetcher(nil, PullUpdate)
			if insecureImage {
				f.Insecure = insecure.Image
			}
			data := filepath.Join(e.dir, "data")
			var err error
			peak := peakDiskUse(data, func() { _, err = f.Fetch(bg(), path, "") })
			var le *tarsafe.LimitError
			if !errors.As(err, &le) || le.Max != limit {
				t.Fatalf("err = %v, want a *tarsafe.LimitError at %d", err, limit)
			}
			if peak > 3*limit {
				t.Fatalf("the data dir reached %d MiB with a %d MiB limit", peak>>20, limit>>20)
			}
			e.assertEmpty()
			assertNoTemps(t, data)
		})
	}
}

// TestSparseImages: a 100 GiB sparse entry (a few KiB of tar) is refused
// by the default size limit; a smaller one, allowed, is written sparse.
func TestSparseImages(t *testing.T) {
	key := trusttest.NewKey(t, "Sparse <s@example.com>")
	e := newEnv(t)
	e.trust("example.com/sparse", key)
	huge := storetest.SparseACI(t, "example.com/sparse", nil, 100<<30)
	path := e.writeFile("huge.aci", huge)
	e.writeFile("huge.aci.asc", key.Sign(t, huge))
	_, err := e.fetcher(nil, PullUpdate).Fetch(bg(), path, "")
	if !errors.Is(err, tarsafe.ErrLimit) {
		t.Fatalf("100 GiB sparse entry: err = %v, want tarsafe.ErrLimit", err)
	}
	e.assertEmpty()

	const logical = 1 << 30
	small := storetest.SparseACI(t, "example.com/sparse", map[string]string{"version": "1"}, logical)
	path = e.writeFile("small.aci", small)
	e.writeFile("small.aci.asc", key.Sign(t, small))
	data := filepath.Join(e.dir, "data")
	var id string
	peak := peakDiskUse(data, func() { id, err = e.fetcher(nil, PullUpdate).Fetch(bg(), path, "") })
	if err != nil {
		t.Fatal(err)
	}
	if peak > 16<<20 {
		t.Fatalf("fetching a 1 GiB sparse file took %d MiB at the peak", peak>>20)
	}
	tree, err := e.store.Render(bg(), id)
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(e.store.TreePath(tree), "rootfs", "sparse"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != logical || st.Blocks*512 > 1<<20 {
		t.Fatalf("sparse file in the tree: size %d, %d bytes allocated", st.Size, st.Blocks*512)
	}
}

// TestFreeSpaceFloor: an ingest that would leave less than the floor free
// is refused, with an error saying so, and leaves nothing.
func TestFreeSpaceFloor(t *testing.T) {
	key := trusttest.NewKey(t, "Signer <s@example.com>")
	aci := image(t, "example.com/hello", nil, "hello")
	e := newEnv(t)
	e.trust("example.com/hello", key)
	e.store.SetLimits(store.Limits{MaxImageSize: 1 << 30, MinFreeBytes: 1 << 62})
	path := e.writeFile("hello.aci", aci)
	e.writeFile("hello.aci.asc", key.Sign(t, aci))
	_, err := e.fetcher(nil, PullUpdate).Fetch(bg(), path, "")
	var fe *store.FreeSpaceError
	if !errors.As(err, &fe) || !errors.Is(err, store.ErrLowSpace) || fe.Floor != 1<<62 {
		t.Fatalf("err = %v, want a *store.FreeSpaceError", err)
	}
	e.assertEmpty()
	assertNoTemps(t, filepath.Join(e.dir, "data"))
}

// TestCheckBoundsDecompression: check-signature stops a bomb at the size
// limit instead of decompressing all of it.
func TestCheckBoundsDecompression(t *testing.T) {
	key := trusttest.NewKey(t, "Bomber <b@example.com>")
	bomb := storetest.Bomb(t, "example.com/bomb", 1<<30, "zstd")
	e := newEnv(t)
	e.trust("example.com/bomb", key)
	path := e.writeFile("bomb.aci", bomb)
	e.writeFile("bomb.aci.asc", key.Sign(t, bomb))
	start := time.Now()
	_, err := Check(context.Background(), CheckOptions{Keystore: e.ks, Limits: store.Limits{MaxImageSize: 16 << 20}}, path, "")
	if !errors.Is(err, tarsafe.ErrLimit) {
		t.Fatalf("err = %v, want tarsafe.ErrLimit", err)
	}
	t.Logf("refused in %v", time.Since(start))
}

// TestCheckVerifiesBeforeDecompressing: check-signature verifies the
// signature over the bytes as given before decompressing them, so a gzip
// bomb whose signature does not verify is refused for its signature, never
// reaching the size limit its decompression would hit.
func TestCheckVerifiesBeforeDecompressing(t *testing.T) {
	key := trusttest.NewKey(t, "Bomber <b@example.com>")
	stranger := trusttest.NewKey(t, "Stranger <x@example.org>")
	bomb := storetest.Bomb(t, "example.com/bomb", 1<<30, "gzip")
	for _, tc := range []struct {
		name string
		sig  []byte
		want func(error) bool
	}{
		{"unknown signer", stranger.Sign(t, bomb), func(err error) bool {
			var u *trust.UnknownSignerError
			return errors.As(err, &u)
		}},
		{"bad signature by a trusted key", key.Sign(t, []byte("other bytes")), func(err error) bool {
			return errors.Is(err, trust.ErrBadSignature)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.trust("example.com/bomb", key)
			path := e.writeFile("bomb.aci", bomb)
			e.writeFile("bomb.aci.asc", tc.sig)
			_, err := Check(context.Background(), CheckOptions{Keystore: e.ks, Limits: store.Limits{MaxImageSize: 16 << 20}}, path, "")
			if errors.Is(err, tarsafe.ErrLimit) {
				t.Fatalf("the bomb was decompressed up to the size limit before its signature was checked: %v", err)
			}
			if !tc.want(err) {
				t.Fatalf("err = %v, want a signature refusal", err)
			}
		})
	}
}

// TestTrustedZeroBombStaysSparse: a zstd of 512 MiB of zeros, signed by a
// trusted key and within the limits, is stored, but its blob and tree
// take the space of their data, not of their zeros.
func TestTrustedZeroBombStaysSparse(t *testing.T) {
	key := trusttest.NewKey(t, "Zeros <z@example.com>")
	bomb := storetest.Bomb(t, "example.com/zeros", 512<<20, "zstd")
	e := newEnv(t)
	e.trust("example.com/zeros", key)
	path := e.writeFile("zeros.aci", bomb)
	e.writeFile("zeros.aci.asc", key.Sign(t, bomb))
	data := filepath.Join(e.dir, "data")
	var id string
	var err error
	peak := peakDiskUse(data, func() { id, err = e.fetcher(nil, PullUpdate).Fetch(bg(), path, "") })
	if err != nil {
		t.Fatal(err)
	}
	if peak > 16<<20 {
		t.Fatalf("storing 512 MiB of zeros took %d MiB of disk at the peak", peak>>20)
	}
	img, err := e.store.Image(id)
	if err != nil || img.Size < 512<<20 {
		t.Fatalf("image row %+v, %v: want the blob's full logical size", img, err)
	}
}
