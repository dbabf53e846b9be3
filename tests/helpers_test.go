package tests

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rkt/rkt/stage0/trust/trusttest"
	"github.com/rkt/rkt/store/storetest"
)

// commandTimeout bounds every rkt invocation, so a hang fails one test
// instead of the whole suite.
const commandTimeout = 2 * time.Minute

var (
	shortIDRe = regexp.MustCompile(`^sha512-[0-9a-f]{32}$`)
	fullIDRe  = regexp.MustCompile(`^sha512-[0-9a-f]{64}$`)
)

// env is one test's private rkt installation: data dir, config dirs and its
// own path on the test server.
type env struct {
	t            *testing.T
	base         string
	dataDir      string
	localConfig  string
	systemConfig string
	slug         string
	site         *site
	// extraEnv is added to the environment of every rkt run.
	extraEnv []string
	// cred, when set, runs rkt as that user, and binary (then set too) is
	// a copy of the rkt binary that user can reach.
	cred   *syscall.Credential
	binary string
}

var slugRe = regexp.MustCompile(`[^a-z0-9]+`)

// newEnv makes fresh directories for t and registers its site on the test
// server under /<slug>/, where slug is derived from the test name.
func newEnv(t *testing.T) *env {
	t.Helper()
	base := t.TempDir()
	e := &env{
		t:            t,
		base:         base,
		dataDir:      filepath.Join(base, "data"),
		localConfig:  filepath.Join(base, "local"),
		systemConfig: filepath.Join(base, "system"),
		slug:         strings.Trim(slugRe.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-"),
	}
	for _, d := range []string{e.localConfig, e.systemConfig} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.site = newSite(e.slug)
	servers.register(t, e.slug, e.site)
	return e
}

// prefix is the image name prefix this test's site serves: localhost/<slug>.
func (e *env) prefix() string { return "localhost/" + e.slug }

// name is the image name localhost/<slug>/<app>.
func (e *env) name(app string) string { return e.prefix() + "/" + app }

func (e *env) globalArgs() []string {
	return []string{
		"--dir=" + e.dataDir,
		"--local-config=" + e.localConfig,
		"--system-config=" + e.systemConfig,
	}
}

// command prepares an rkt run with the test's global flags and environment.
func (e *env) command(ctx context.Context, args ...string) *exec.Cmd {
	bin := rktBinary
	if e.binary != "" {
		bin = e.binary
	}
	cmd := exec.CommandContext(ctx, bin, append(e.globalArgs(), args...)...)
	cmd.Env = append([]string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + e.base,
		"SSL_CERT_FILE=" + caPEM,
	}, e.extraEnv...)
	cmd.Dir = e.base
	if e.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.cred}
	}
	return cmd
}

// rkt runs the binary with e's directories and returns what a user sees.
// Stdin is /dev/null: there is never a terminal.
func rkt(t *testing.T, e *env, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := e.command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	err := cmd.Run()
	exit = exitCode(t, err)
	t.Logf("rkt %s\n-> exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), exit, out.String(), errb.String())
	if ctx.Err() != nil {
		t.Errorf("rkt %s: timed out after %v", strings.Join(args, " "), commandTimeout)
	}
	return out.String(), errb.String(), exit
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	// Errorf, not Fatalf: rkt may run on a helper goroutine.
	t.Errorf("running rkt: %v", err)
	return -1
}

// ok runs rkt, fails the test unless it exits 0 and returns its stdout.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	out, stderr, code := rkt(e.t, e, args...)
	if code != 0 {
		e.t.Fatalf("rkt %s: exit %d, want 0\nstderr: %s", strings.Join(args, " "), code, stderr)
	}
	return out
}

// fails runs rkt and fails the test unless it exits with want; it returns
// stdout and stderr.
func (e *env) fails(want int, args ...string) (string, string) {
	e.t.Helper()
	out, stderr, code := rkt(e.t, e, args...)
	if code != want {
		e.t.Fatalf("rkt %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, stderr)
	}
	return out, stderr
}

// fetchID runs a fetch that must succeed and returns the one ID it printed.
func (e *env) fetchID(args ...string) string {
	e.t.Helper()
	out := e.ok(append([]string{"fetch"}, args...)...)
	id := strings.TrimSpace(out)
	full := slices.Contains(args, "--full")
	if full && !fullIDRe.MatchString(id) || !full && !shortIDRe.MatchString(id) {
		e.t.Fatalf("fetch printed %q on stdout, want only an image ID (full=%v)", out, full)
	}
	return id
}

// listedImage is one row of `rkt image list --format=json`.
type listedImage struct {
	ID   string
	Name string
	Raw  map[string]any
}

// images returns what `rkt image list --format=json --full --all` shows:
// every image in the store, OCI layer images included.
func (e *env) images() []listedImage {
	e.t.Helper()
	out := e.ok("image", "list", "--format=json", "--full", "--all")
	var raw []map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		e.t.Fatalf("image list --format=json printed %q: %v", out, err)
	}
	var imgs []listedImage
	for _, r := range raw {
		id, _ := r["id"].(string)
		name, _ := r["name"].(string)
		imgs = append(imgs, listedImage{ID: id, Name: name, Raw: r})
	}
	return imgs
}

func (e *env) imageIDs() []string {
	e.t.Helper()
	var ids []string
	for _, im := range e.images() {
		ids = append(ids, im.ID)
	}
	slices.Sort(ids)
	return ids
}

// files lists the regular files under a data dir subdirectory, relative to it.
func (e *env) files(sub string) []string {
	e.t.Helper()
	root := filepath.Join(e.dataDir, sub)
	var names []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == root {
				return filepath.SkipDir
			}
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			names = append(names, rel)
		}
		return nil
	})
	if err != nil {
		e.t.Fatalf("walking %s: %v", root, err)
	}
	return names
}

// entries lists the names directly in a data dir subdirectory.
func (e *env) entries(sub string) []string {
	e.t.Helper()
	des, err := os.ReadDir(filepath.Join(e.dataDir, sub))
	if err != nil && !os.IsNotExist(err) {
		e.t.Fatal(err)
	}
	var names []string
	for _, d := range des {
		names = append(names, d.Name())
	}
	return names
}

func (e *env) blobs() []string { return e.files("cas/blob") }

// assertStore checks that the store shows exactly wantIDs, has one blob
// and one cached manifest per image (no tree when there is no image), and
// that tmp/ holds nothing (after `image list` opened the
// store, which sweeps dead temp files).
func (e *env) assertStore(wantIDs ...string) {
	e.t.Helper()
	got := e.imageIDs()
	want := slices.Clone(wantIDs)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		e.t.Errorf("image list shows %v, want %v", got, want)
	}
	var blobIDs []string
	for _, b := range e.blobs() {
		blobIDs = append(blobIDs, filepath.Base(b))
	}
	slices.Sort(blobIDs)
	if !slices.Equal(blobIDs, want) {
		e.t.Errorf("cas/blob holds %v, want %v", blobIDs, want)
	}
	var manifestIDs []string
	for _, m := range e.files("cas/imageManifest") {
		manifestIDs = append(manifestIDs, filepath.Base(m))
	}
	slices.Sort(manifestIDs)
	if !slices.Equal(manifestIDs, want) {
		e.t.Errorf("cas/imageManifest holds %v, want %v", manifestIDs, want)
	}
	if len(want) == 0 {
		if trees := e.entries("cas/tree"); len(trees) != 0 {
			e.t.Errorf("cas/tree holds %v, want no tree without images", trees)
		}
	}
	if tmp := e.files("tmp"); len(tmp) != 0 {
		e.t.Errorf("tmp/ still holds %v after the store was reopened", tmp)
	}
}

// image is an ACI made for a test.
type image struct {
	name string
	aci  []byte // the uncompressed tar
	id   string // sha512-<64 hex>
}

func (im image) short() string { return im.id[:len("sha512-")+32] }

var defaultLabels = map[string]string{"version": "1.0", "os": "linux", "arch": "amd64"}

// newImage builds localhost/<slug>/<app> version 1.0 with a few files.
func (e *env) newImage(app string, files ...storetest.File) image {
	e.t.Helper()
	return e.newImageLabels(app, defaultLabels, files...)
}

func (e *env) newImageLabels(app string, labels map[string]string, files ...storetest.File) image {
	e.t.Helper()
	if len(files) == 0 {
		files = []storetest.File{
			{Name: "etc/hello", Body: []byte("hello from " + app + "\n"), Mode: 0o644},
			{Name: "bin/tool", Body: []byte("#!/bin/sh\necho tool\n"), Mode: 0o755},
		}
	}
	aci := storetest.BuildACI(e.t, e.name(app), labels, files...)
	return image{name: e.name(app), aci: aci, id: storetest.ImageID(aci)}
}

// newKey makes a signing key with a recognisable user ID.
func newKey(t *testing.T, opts ...trusttest.Option) *trusttest.Key {
	t.Helper()
	return trusttest.NewKey(t, "Test Signer <signer@"+strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))+".localhost>", opts...)
}

// trustPrefix installs k in the local trust dir for prefix ("" = root).
func (e *env) trustPrefix(prefix string, k *trusttest.Key) string {
	e.t.Helper()
	return trusttest.WriteKeyring(e.t, e.localConfig, prefix, k)
}

// write puts data into the test's base dir and returns the path.
func (e *env) write(name string, data []byte) string {
	e.t.Helper()
	p := filepath.Join(e.base, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// writeSigned writes data as <name> and sig as <name>.asc.
func (e *env) writeSigned(name string, data, sig []byte) string {
	e.t.Helper()
	p := e.write(name, data)
	if sig != nil {
		e.write(name+".asc", sig)
	}
	return p
}

// site serves one test's files and discovery documents under /<slug>/.
type site struct {
	slug string

	mu     sync.Mutex
	routes map[string]http.Handler
	hits   map[string]int // requests per path (relative to /<slug>/)
	bodies map[string]int // 200 responses per path served by serveFile
	metas  []string       // <meta> tags answered to ?ac-discovery=1
	// discoveryHTTPOnly answers discovery only over plain HTTP.
	discoveryHTTPOnly bool
	discoveryHits     int
}

func newSite(slug string) *site {
	return &site{slug: slug, routes: map[string]http.Handler{}, hits: map[string]int{}, bodies: map[string]int{}}
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rel := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/"+s.slug), "/")
	if r.URL.Query().Has("ac-discovery") {
		s.mu.Lock()
		s.discoveryHits++
		metas := slices.Clone(s.metas)
		httpOnly := s.discoveryHTTPOnly
		s.mu.Unlock()
		if len(metas) == 0 || (httpOnly && r.TLS != nil) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head>\n%s\n</head><body></body></html>\n", strings.Join(metas, "\n"))
		return
	}
	s.mu.Lock()
	s.hits[rel]++
	h := s.routes[rel]
	s.mu.Unlock()
	if h == nil {
		http.NotFound(w, r)
		return
	}
	h.ServeHTTP(w, r)
}

// url is https://localhost/<slug>/<rel>.
func (s *site) url(rel string) string { return "https://localhost/" + s.slug + "/" + rel }

func (s *site) handle(rel string, h http.Handler) {
	s.mu.Lock()
	s.routes[rel] = h
	s.mu.Unlock()
}

// serveFile serves data at rel with an ETag, answering 304 to a matching
// If-None-Match.
func (s *site) serveFile(rel string, data []byte) {
	sum := sha256.Sum256(data)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	s.handle(rel, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		s.mu.Lock()
		s.bodies[rel]++
		s.mu.Unlock()
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}))
}

func (s *site) requests(rel string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[rel]
}

func (s *site) fullResponses(rel string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies[rel]
}

// imageTemplate is where discovery says images of this site live.
func (s *site) imageTemplate() string {
	return "https://localhost/" + s.slug + "/images/{name}-{version}-{os}-{arch}.{ext}"
}

// imagePath is the path (relative to the site) discovery renders for name.
func (s *site) imagePath(name, version, ext string) string {
	return "images/" + name + "-" + version + "-linux-amd64." + ext
}

// discover answers ac-discovery for prefix with the site's image template.
func (s *site) discover(prefix string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metas = append(s.metas, fmt.Sprintf(`<meta name="ac-discovery" content="%s %s">`, prefix, s.imageTemplate()))
}

// discoverKeys answers ac-discovery-pubkeys for prefix with keyURL.
func (s *site) discoverKeys(prefix, keyURL string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metas = append(s.metas, fmt.Sprintf(`<meta name="ac-discovery-pubkeys" content="%s %s">`, prefix, keyURL))
}

// publish serves im (as data, maybe compressed) and sig where discovery
// finds them for version 1.0.
func (s *site) publish(im image, data, sig []byte) {
	s.serveFile(s.imagePath(im.name, "1.0", "aci"), data)
	if sig != nil {
		s.serveFile(s.imagePath(im.name, "1.0", "aci.asc"), sig)
	}
}

// assertMentions fails unless msg contains every one of words.
func assertMentions(t *testing.T, what, msg string, words ...string) {
	t.Helper()
	for _, w := range words {
		if !strings.Contains(msg, w) {
			t.Errorf("%s does not mention %q:\n%s", what, w, msg)
		}
	}
}

// fileOf is a regular file of an image, path relative to rootfs/.
func fileOf(name, body string) storetest.File {
	return storetest.File{Name: name, Body: []byte(body), Mode: 0o644}
}
