package tests

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rkt/rkt/store/storetest"
)

// TestFetchResumes: a download cut off midway fails without storing
// anything, keeps what came, and the next fetch asks only for the rest
// (Range, with If-Range naming the ETag), as rkt 1.30's resumed fetches
// did. A resource that changed in between is downloaded whole again.
func TestFetchResumes(t *testing.T) {
	t.Parallel()
	e, _, sign := signedSetup(t)
	big := make([]byte, 4<<20)
	for i := range big {
		big[i] = byte(i*7 + i/4096)
	}
	im := e.newImage("resumed", storetest.File{Name: "big", Body: big})
	e.site.serveFile("app.aci.asc", sign(im.aci))

	var mu sync.Mutex
	var ranges []string
	cut := true
	etag := `"v1"`
	data := im.aci
	e.site.handle("app.aci", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range")+"|"+r.Header.Get("If-Range"))
		doCut, tag, body := cut, etag, data
		cut = false
		mu.Unlock()
		w.Header().Set("ETag", tag)
		if doCut {
			// Half the image, then the connection goes away.
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.WriteHeader(http.StatusOK)
			w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	}))

	_, stderr := e.fails(254, "fetch", e.site.url("app.aci"))
	assertMentions(t, "the cut-off fetch", stderr, "the next fetch resumes there")
	e.assertStore()

	out, stderr, code := rkt(t, e, "fetch", e.site.url("app.aci"))
	if code != 0 || strings.TrimSpace(out) != im.short() {
		t.Fatalf("resumed fetch: exit %d, stdout %q\n%s", code, out, stderr)
	}
	assertMentions(t, "the resumed fetch", stderr, "resuming the download of")
	e.assertStore(im.id)
	mu.Lock()
	got := append([]string(nil), ranges...)
	mu.Unlock()
	if len(got) != 2 || !strings.HasPrefix(got[1], fmt.Sprintf("bytes=%d-|", len(im.aci)/2)) || !strings.HasSuffix(got[1], `|"v1"`) {
		t.Errorf("requests (Range|If-Range) %q, want a second one for the rest, bytes=%d-, if still \"v1\"", got, len(im.aci)/2)
	}

	// Cut again, then the resource changes: the server answers the
	// resume with the whole new image, which is what gets stored.
	im2 := e.newImage("resumed", storetest.File{Name: "big", Body: append([]byte("v2"), big...)})
	e.site.serveFile("app.aci.asc", sign(im2.aci))
	mu.Lock()
	cut, ranges = true, nil
	mu.Unlock()
	e.fails(254, "fetch", e.site.url("app.aci"))
	mu.Lock()
	etag, data = `"v2"`, im2.aci
	mu.Unlock()
	if got := e.fetchID(e.site.url("app.aci")); got != im2.short() {
		t.Errorf("fetch after the resource changed printed %s, want the new image %s", got, im2.short())
	}
	e.assertStore(im.id, im2.id)
}

// TestFetchDeferredSignature: a signature URL that answers 202 Accepted asks
// for the image first and the signature after, as rkt 1.30's deferred
// signature download did; a second 202 is a refusal, and nothing is stored.
func TestFetchDeferredSignature(t *testing.T) {
	t.Parallel()
	e, im, sign := signedSetup(t)
	e.site.serveFile("app.aci", im.aci)
	sig := sign(im.aci)
	var mu sync.Mutex
	var order []string
	accepted := 1
	e.site.handle("app.aci.asc", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, "sig")
		if accepted > 0 {
			accepted--
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Write(sig)
	}))
	if got := e.fetchID(e.site.url("app.aci")); got != im.short() {
		t.Errorf("fetch printed %s, want %s", got, im.short())
	}
	mu.Lock()
	if len(order) != 2 || e.site.fullResponses("app.aci") != 1 {
		t.Errorf("signature requested %d times, image sent %d times; want the signature twice around one image", len(order), e.site.fullResponses("app.aci"))
	}
	mu.Unlock()

	t.Run("twice", func(t *testing.T) {
		e, im, _ := signedSetup(t)
		e.site.serveFile("app.aci", im.aci)
		e.site.handle("app.aci.asc", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
		}))
		_, stderr := e.fails(254, "fetch", e.site.url("app.aci"))
		assertMentions(t, "a signature deferred twice", stderr, "defer the signature download again")
		e.assertStore()
	})
}
