package tests

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rkt/rkt/store/storetest"
)

// bigImage is an image with size bytes of incompressible data.
func (e *env) bigImage(app string, size int) image {
	e.t.Helper()
	body := make([]byte, size)
	rand.NewChaCha8([32]byte{byte(size), 1}).Read(body)
	return e.newImage(app, storetest.File{Name: "data/blob", Body: body, Mode: 0o644})
}

// pacedFile serves data in chunks, pausing delay after each one while slow
// is set, and calls at(n) once the n-th byte has gone out.
type pacedFile struct {
	data  []byte
	chunk int
	delay time.Duration
	slow  atomic.Bool
	mu    sync.Mutex
	marks map[int]chan struct{} // byte offset -> closed when reached
}

func newPacedFile(data []byte, chunk int, delay time.Duration) *pacedFile {
	p := &pacedFile{data: data, chunk: chunk, delay: delay, marks: map[int]chan struct{}{}}
	p.slow.Store(true)
	return p
}

// reached returns a channel closed when a response has sent n bytes.
func (p *pacedFile) reached(n int) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := make(chan struct{})
	p.marks[n] = ch
	return ch
}

func (p *pacedFile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", strconv.Itoa(len(p.data)))
	w.Header().Set("Content-Type", "application/octet-stream")
	fl, _ := w.(http.Flusher)
	for off := 0; off < len(p.data); {
		end := min(off+p.chunk, len(p.data))
		if _, err := w.Write(p.data[off:end]); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
		off = end
		p.mu.Lock()
		for n, ch := range p.marks {
			if off >= n {
				close(ch)
				delete(p.marks, n)
			}
		}
		p.mu.Unlock()
		if p.slow.Load() {
			time.Sleep(p.delay)
		}
	}
}

// TestFetchKilledMidDownload: SIGKILL during a slow download leaves a store
// that lists fine, shows nothing partial, and takes the next fetch.
func TestFetchKilledMidDownload(t *testing.T) {
	t.Parallel()
	e, _, sign := signedSetup(t)
	im := e.bigImage("big", 50<<20)
	paced := newPacedFile(im.aci, 256<<10, 20*time.Millisecond)
	e.site.handle("big.aci", paced)
	e.site.serveFile("big.aci.asc", sign(im.aci))
	u := e.site.url("big.aci")

	mid := paced.reached(10 << 20)
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := e.command(ctx, "fetch", u)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-mid:
	case err := <-done:
		t.Fatalf("fetch ended (%v) before it could be killed; stderr:\n%s", err, stderr.String())
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("the download never reached 10 MB; stderr:\n%s", stderr.String())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-done

	e.assertStore()
	if trees := e.entries("cas/tree"); len(trees) != 0 {
		t.Errorf("cas/tree holds %v after a killed fetch", trees)
	}

	paced.slow.Store(false)
	if got := e.fetchID(u); got != im.short() {
		t.Errorf("the fetch after the kill printed %s, want %s", got, im.short())
	}
	e.assertStore(im.id)
}

// TestFetchKilledWhileCommitting: SIGKILL right after the last byte was
// sent, at several delays, so that some kills land while the image is
// verified, committed or rendered. The store must then hold either the whole
// image or nothing, and the next fetch must succeed.
func TestFetchKilledWhileCommitting(t *testing.T) {
	t.Parallel()
	e, _, sign := signedSetup(t)
	im := e.bigImage("big", 16<<20)
	paced := newPacedFile(im.aci, 1<<20, 0)
	e.site.handle("big.aci", paced)
	e.site.serveFile("big.aci.asc", sign(im.aci))
	u := e.site.url("big.aci")

	for _, d := range []time.Duration{0, 5 * time.Millisecond, 20 * time.Millisecond, 60 * time.Millisecond, 150 * time.Millisecond, 400 * time.Millisecond} {
		end := paced.reached(len(im.aci))
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		cmd := e.command(ctx, "fetch", u)
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-end:
			time.Sleep(d)
			cmd.Process.Kill()
			<-done
		case <-done:
			// Finished before the response was fully written (cannot
			// happen unless the body was not read); nothing to kill.
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			<-done
			cancel()
			t.Fatal("the download never finished")
		}
		cancel()

		t.Logf("killed %v after the last byte", d)
		ids := e.imageIDs()
		switch {
		case len(ids) == 0:
			// A blob under its final name without an image row is an
			// orphan that nothing ever removes.
			e.assertStore()
		case slices.Equal(ids, []string{im.id}):
			e.assertStore(im.id)
			out := filepath.Join(e.base, "export.aci")
			e.ok("image", "export", "--overwrite", im.id, out)
			assertFileBytes(t, out, im.aci)
			e.ok("image", "rm", im.id)
		default:
			t.Fatalf("kill %v after the last byte: image list shows %v", d, ids)
		}
	}

	if got := e.fetchID(u); got != im.short() {
		t.Errorf("the fetch after the kills printed %s", got)
	}
	e.assertStore(im.id)
	// The rendered tree, if fetch renders, is whole.
	if len(e.entries("cas/tree")) > 0 {
		e.ok("image", "verify", im.id)
	}
}

// TestFetchConcurrentSameImage: two fetches of one image at once both
// succeed with the same ID and the store holds it once.
func TestFetchConcurrentSameImage(t *testing.T) {
	t.Parallel()
	e, _, sign := signedSetup(t)
	im := e.bigImage("big", 8<<20)
	e.site.handle("big.aci", newPacedFile(im.aci, 512<<10, 30*time.Millisecond))
	e.site.serveFile("big.aci.asc", sign(im.aci))
	u := e.site.url("big.aci")

	var wg sync.WaitGroup
	outs := make([]string, 2)
	codes := make([]int, 2)
	for i := range 2 {
		wg.Go(func() {
			var stderr string
			outs[i], stderr, codes[i] = rkt(t, e, "fetch", u)
			if codes[i] != 0 {
				t.Errorf("concurrent fetch %d: exit %d: %s", i, codes[i], stderr)
			}
		})
	}
	wg.Wait()
	if strings.TrimSpace(outs[0]) != im.short() || outs[0] != outs[1] {
		t.Errorf("concurrent fetches printed %q and %q, want %s twice", outs[0], outs[1], im.short())
	}
	e.assertStore(im.id)
}

// TestFetchDuringImageGC: fetches while `image gc --grace-period=0s` runs
// in a loop; every command ends well and the store stays consistent.
func TestFetchDuringImageGC(t *testing.T) {
	t.Parallel()
	e, _, sign := signedSetup(t)
	im := e.bigImage("big", 4<<20)
	p := e.writeSigned("big.aci", im.aci, sign(im.aci))

	stop := make(chan struct{})
	var gcRuns, gcFailures atomic.Int32
	var wg sync.WaitGroup
	// Stop the loop before the test ends, also when it fails early.
	stopGC := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopGC()
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, stderr, code := rkt(t, e, "image", "gc", "--grace-period=0s")
			gcRuns.Add(1)
			if code != 0 {
				gcFailures.Add(1)
				t.Errorf("image gc during fetches: exit %d: %s", code, stderr)
			}
		}
	})
	for range 5 {
		if got := e.fetchID(p); got != im.short() {
			t.Errorf("fetch during gc printed %s", got)
		}
	}
	stopGC()
	if gcRuns.Load() == 0 {
		t.Fatal("image gc never ran")
	}

	switch ids := e.imageIDs(); {
	case len(ids) == 0:
		e.assertStore()
	case slices.Equal(ids, []string{im.id}):
		e.assertStore(im.id)
	default:
		t.Fatalf("after fetches and gc, image list shows %v", ids)
	}
	e.fetchID(p)
	e.assertStore(im.id)
}
