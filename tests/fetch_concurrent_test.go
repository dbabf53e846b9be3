package tests

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Many fetches of one URL at once (a fleet of units starting together) make
// one download: the others wait for it and use the image it stored.
func TestConcurrentFetchesDownloadOnce(t *testing.T) {
	t.Parallel()
	e, im, sign := signedSetup(t)
	e.site.serveFile("app.aci.asc", sign(im.aci))
	var mu sync.Mutex
	bodies := 0
	// The body comes slowly, so every fetcher has started before the first
	// download can finish.
	e.site.handle("app.aci", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		bodies++
		mu.Unlock()
		time.Sleep(2 * time.Second)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(im.aci))
	}))

	const n = 10
	type result struct {
		out, stderr string
		code        int
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, stderr, code := rkt(t, e, "fetch", e.site.url("app.aci"))
			results[i] = result{out, stderr, code}
		}()
	}
	wg.Wait()
	waited := 0
	for i, r := range results {
		if r.code != 0 || r.out != im.short()+"\n" {
			t.Errorf("fetch %d: exit %d, stdout %q, want exit 0 and %q; stderr:\n%s", i, r.code, r.out, im.short()+"\n", r.stderr)
		}
		if strings.Contains(r.stderr, "waiting for another fetch of "+e.site.url("app.aci")) {
			waited++
		}
	}
	mu.Lock()
	got := bodies
	mu.Unlock()
	if got != 1 {
		t.Errorf("the image was downloaded %d times by %d concurrent fetches, want once", got, n)
	}
	if waited != n-1 {
		t.Errorf("%d fetches said they waited for another, want %d", waited, n-1)
	}
	e.assertStore(im.id)
}
