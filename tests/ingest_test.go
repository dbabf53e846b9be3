package tests

import (
	"crypto/rand"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rkt/rkt/store/storetest"
)

// duBytes is the disk space allocated to the files under dir.
func duBytes(dir string) int64 {
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

// peakRkt runs rkt with e's directories while polling the disk use of the
// data dir, and returns what it printed, its exit code and the largest
// growth of the data dir seen.
func peakRkt(t *testing.T, e *env, args ...string) (stdout, stderr string, exit int, peak int64) {
	t.Helper()
	base := duBytes(e.dataDir)
	var mu sync.Mutex
	look := func() {
		u := duBytes(e.dataDir) - base
		mu.Lock()
		peak = max(peak, u)
		mu.Unlock()
	}
	stop, done := make(chan struct{}), make(chan struct{})
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
	stdout, stderr, exit = rkt(t, e, args...)
	close(stop)
	<-done
	look()
	return stdout, stderr, exit, peak
}

// writeFetchConfig writes a fetch.d file into the local configuration.
func (e *env) writeFetchConfig(json string) {
	e.t.Helper()
	e.write("local/fetch.d/limits.json", []byte(`{"rktKind":"fetch","rktVersion":"v1",`+json+`}`))
}

// TestFetchBombUnknownKey: decompression bombs signed by a key trusted
// nowhere, fetched from a file and over https, are refused from their
// compressed bytes: the data dir never grows by more than the bomb.
func TestFetchBombUnknownKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	stranger := newKey(t)
	e.trustPrefix(e.prefix(), newKey(t)) // someone else's key is trusted
	for _, tc := range []struct {
		comp string
		size int64
	}{{"gzip", 1 << 30}, {"zstd", 4 << 30}} {
		bomb := storetest.Bomb(t, e.name("bomb"), tc.size, tc.comp)
		sig := stranger.Sign(t, bomb)
		p := e.writeSigned("bomb-"+tc.comp+".aci", bomb, sig)
		e.site.serveFile("bomb-"+tc.comp+".aci", bomb)
		e.site.serveFile("bomb-"+tc.comp+".aci.asc", sig)
		for _, ref := range []string{p, e.site.url("bomb-" + tc.comp + ".aci")} {
			out, stderr, code, peak := peakRkt(t, e, "fetch", ref)
			if code != 254 || out != "" {
				t.Fatalf("fetch %s: exit %d, stdout %q; want 254 and nothing", ref, code, out)
			}
			assertMentions(t, "the refusal", stderr, "bomb-"+tc.comp+".aci", "rkt trust --prefix")
			t.Logf("%s bomb (%d KiB, %d GiB expanded): data dir peak growth %d KiB", tc.comp, len(bomb)>>10, tc.size>>30, peak>>10)
			if limit := int64(len(bomb)) + 2<<20; peak > limit {
				t.Fatalf("fetch %s: the data dir grew by %d KiB at its peak, want at most %d KiB", ref, peak>>10, limit>>10)
			}
		}
	}
	e.assertStore()
}

// TestFetchLimits: the size limit holds with a trusted key and with
// --insecure-options=image, the error names the setting that raises it,
// and a 100 GiB sparse entry is refused by the default limit; allowed by
// fetch.d, a sparse entry is extracted sparse.
func TestFetchLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := newKey(t)
	e.trustPrefix(e.prefix(), k)

	bomb := storetest.Bomb(t, e.name("bomb"), 2<<30, "zstd")
	p := e.writeSigned("bomb.aci", bomb, k.Sign(t, bomb))
	e.writeFetchConfig(`"maxImageSize":"64MiB"`)
	for _, extra := range [][]string{nil, {"--insecure-options=image"}} {
		_, stderr, code, peak := peakRkt(t, e, append(extra, "fetch", p)...)
		if code != 254 {
			t.Fatalf("fetch %v of a 2 GiB bomb with a 64 MiB limit: exit %d", extra, code)
		}
		assertMentions(t, "the refusal", stderr, "exceeds a fetch limit", "maxImageSize", "fetch.d")
		if peak > 3*(64<<20) {
			t.Fatalf("fetch %v: the data dir grew by %d MiB with a 64 MiB limit", extra, peak>>20)
		}
	}
	e.assertStore()

	huge := storetest.SparseACI(t, e.name("sparse"), nil, 100<<30)
	p = e.writeSigned("huge.aci", huge, k.Sign(t, huge))
	if err := os.Remove(filepath.Join(e.localConfig, "fetch.d", "limits.json")); err != nil {
		t.Fatal(err)
	}
	_, stderr := e.fails(254, "fetch", p)
	assertMentions(t, "the refusal of a 100 GiB sparse entry", stderr, "huge.aci", "maxImageSize")
	e.assertStore()

	const logical = 2 << 30
	sparse := storetest.SparseACI(t, e.name("sparse"), map[string]string{"version": "2"}, logical)
	p = e.writeSigned("sparse.aci", sparse, k.Sign(t, sparse))
	e.writeFetchConfig(`"maxImageSize":"4GiB"`)
	_, _, code, peak := peakRkt(t, e, "fetch", p)
	if code != 0 {
		t.Fatalf("fetch of a 2 GiB sparse image with a 4 GiB limit: exit %d", code)
	}
	if peak > 32<<20 {
		t.Fatalf("fetching a 2 GiB sparse entry grew the data dir by %d MiB", peak>>20)
	}
	found := false
	filepath.WalkDir(filepath.Join(e.dataDir, "cas", "tree"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "sparse" || d.IsDir() {
			return nil
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Size != logical || st.Blocks*512 > 1<<20 {
			t.Errorf("%s: size %d, %d bytes allocated; want %d bytes, sparse", p, st.Size, st.Blocks*512, logical)
		}
		found = true
		return nil
	})
	if !found {
		t.Fatal("no rendered tree holds the sparse file")
	}
}

// mountTmpfs mounts a tmpfs of size at dir, unmounted when the test ends.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("rkt-test", dir, "tmpfs", 0, "size="+size+",mode=0755"); err != nil {
		t.Fatalf("mounting a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
}

// TestFetchFreeSpaceFloor: on a 64 MiB data dir, an image that would leave
// less than the configured floor free is refused with an error saying so,
// and leaves nothing behind; a small one fits. A configured floor of
// 512 MiB is more than the whole filesystem; the default one, capped at 5%
// of the filesystem, is not.
func TestFetchFreeSpaceFloor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mountTmpfs(t, e.dataDir, "64m")
	k := newKey(t)
	e.trustPrefix(e.prefix(), k)

	small := e.newImage("small")
	ps := e.writeSigned("small.aci", small.aci, k.Sign(t, small.aci))
	e.writeFetchConfig(`"minFreeSpace":"512MiB"`)
	_, stderr := e.fails(254, "fetch", ps)
	assertMentions(t, "the refusal under a 512 MiB floor", stderr, "not enough free space", "minFreeSpace")

	e.writeFetchConfig(`"minFreeSpace":"16MiB","minFreePercent":0`)
	noise := make([]byte, 56<<20)
	rand.Read(noise)
	big := storetest.BuildACI(t, e.name("big"), nil, storetest.File{Name: "noise", Body: noise})
	p := e.writeSigned("big.aci", big, k.Sign(t, big))
	_, stderr = e.fails(254, "fetch", p)
	assertMentions(t, "the refusal", stderr, "big.aci", "not enough free space", "must stay free")
	e.assertStore()
	var st syscall.Statfs_t
	if err := syscall.Statfs(e.dataDir, &st); err != nil {
		t.Fatal(err)
	}
	if used := int64(st.Blocks-st.Bfree) * st.Bsize; used > 4<<20 {
		t.Errorf("after the refusal, %d KiB of the data dir's tmpfs are still used", used>>10)
	}
	if got := e.fetchID(ps); !strings.HasPrefix(small.id, got) {
		t.Errorf("fetch of the small image printed %s, want %s", got, small.short())
	}
	// With the default floor (no minFreeSpace set), a 64 MiB filesystem
	// takes images too.
	e.writeFetchConfig(`"maxFiles":1048576`)
	other := e.newImage("other")
	po := e.writeSigned("other.aci", other.aci, k.Sign(t, other.aci))
	if got := e.fetchID(po); !strings.HasPrefix(other.id, got) {
		t.Errorf("fetch under the default floor printed %s, want %s", got, other.short())
	}
}

// TestCheckSignatureBounded: check-signature stops a bomb at the
// configured size limit, naming the setting, instead of decompressing it
// all; within the limit, the same image is verified.
func TestCheckSignatureBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := newKey(t)
	e.trustPrefix(e.prefix(), k)
	bomb := storetest.Bomb(t, e.name("bomb"), 1<<30, "zstd")
	p := e.writeSigned("bomb.aci", bomb, k.Sign(t, bomb))
	e.writeFetchConfig(`"maxImageSize":"64MiB"`)
	out, stderr := e.fails(254, "image", "check-signature", p)
	assertMentions(t, "the refusal", out+stderr, "not verified", "exceeds a fetch limit", "maxImageSize")
	e.writeFetchConfig(`"maxImageSize":"2GiB"`)
	out = e.ok("image", "check-signature", p)
	assertMentions(t, "the verdict", out, "verified: "+e.name("bomb"))
}
