// Package fetch turns image references into verified images in the store:
// a file, an http(s) URL, an appc name (through meta discovery) or an image
// ID already in the store. It also checks an image and its signature
// without a store (Check, for CI).
//
// Invariants:
//   - Verify, then decompress. The detached signature is downloaded and
//     parsed first; the image bytes as fetched are then spooled into the
//     store's temp area while hashed for the signature (and, for a plain
//     tar, for the image ID and the files' digests, in memory); the
//     signature is verified; only then is the spool decompressed (gzip,
//     bzip2, xz, zstd or none, by magic number) into the store's ingest,
//     which checks the tar, hashes the image ID and extracts, under the
//     store's limits. Nothing of an unverified image is decompressed to
//     disk; no body is held in memory.
//   - Nothing unverified becomes visible: the ingest is committed only after
//     the signature verifies with a key trusted for the name asked for (or,
//     for a file or URL, the manifest's name, read from the spool) and the
//     manifest carries that name and the labels asked for. On any failure
//     the ingest is aborted.
//   - Skipping signature checks happens in exactly one branch, taken when
//     the insecure set has Image, and it logs a warning; the limits hold
//     then too.
//   - A plain tar signed with SHA-512 is hashed once: the signature's
//     sha512 state over the spooled bytes is copied (BinaryMarshaler) to
//     the store as the image ID's, and the spool becomes the blob.
//   - Check (no store) is verify first too: it hashes the bytes as given
//     and verifies the signature before decompressing; a URL's bytes are
//     kept compressed in a temp file for the second pass, a file is read
//     twice. Decompression is bounded by the limits.
//   - Pull policies: Never never touches the network; New uses an image
//     already in the store; Update goes to the network but honours the HTTP
//     cache row of each ACI URL (fresh max-age: no request; ETag: a 304
//     reuses the stored image).
//   - The fetcher prints nothing on stdout: it returns the image key.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/stage0/discovery"
	"github.com/rkt/rkt/stage0/insecure"
	"github.com/rkt/rkt/stage0/trust"
	"github.com/rkt/rkt/store"
	"github.com/rkt/rkt/store/index"
)

// imageStore is what the fetcher uses of *store.Store.
type imageStore interface {
	NewIngest() (*store.Ingest, error)
	ResolveKey(prefix string) (string, error)
	Image(key string) (index.Image, error)
	FindByName(name string, labels map[string]string) (string, error)
	Manifest(key string) (*schema.ImageManifest, []byte, error)
	Remote(aciURL string) (*index.Remote, error)
	PutRemote(r index.Remote) error
	LockDownload(ctx context.Context, source string, onWait func()) (io.Closer, bool, error)
	Partial(url string) (*store.Partial, error)
	DropPartial(url string) error
	Render(ctx context.Context, key string) (treeID string, err error)
	Remove(key string) error
	Touch(key string) error
}

// verifier is what the fetcher and Check use of *trust.Keystore.
type verifier interface {
	Verify(name string, sig *trust.Signature, signed hash.Hash, now time.Time) (*trust.Verdict, error)
}

// keyAdder is the part of *trust.Keystore TrustKeysFromHTTPS needs.
type keyAdder interface {
	Add(prefix string, k *trust.Key) (path string, already bool, err error)
}

// PullPolicy says when the fetcher may go to the network.
type PullPolicy int

const (
	// PullNew uses an image already in the store, fetching only when it is
	// missing (the default of run and prepare).
	PullNew PullPolicy = iota
	// PullUpdate asks the remote, reusing the stored image when the HTTP
	// cache says it is current (the default of fetch).
	PullUpdate
	// PullNever uses the store only.
	PullNever
)

// ParsePullPolicy reads "new", "update" or "never".
func ParsePullPolicy(s string) (PullPolicy, error) {
	switch s {
	case "new":
		return PullNew, nil
	case "update":
		return PullUpdate, nil
	case "never":
		return PullNever, nil
	}
	return 0, fmt.Errorf("unknown pull policy %q (want new, update or never)", s)
}

func (p PullPolicy) String() string {
	switch p {
	case PullNew:
		return "new"
	case PullUpdate:
		return "update"
	case PullNever:
		return "never"
	}
	return fmt.Sprintf("PullPolicy(%d)", int(p))
}

// Fetcher fetches images into a store. Its zero value is not usable: Store,
// Keystore and Client must be set.
type Fetcher struct {
	Store      imageStore
	Keystore   verifier
	Client     *http.Client
	Insecure   insecure.Set
	PullPolicy PullPolicy
	// TrustKeysFromHTTPS: when an appc name's signer is unknown, discover
	// the keys of the name over https and trust them for the name.
	TrustKeysFromHTTPS bool
	// Progress receives download progress bars when it is a terminal.
	Progress io.Writer
	// Log receives diagnostics and warnings. Nil: slog.Default().
	Log *slog.Logger
	// OCIVerifier checks the signatures of docker:// images. Nil: every
	// OCI image is refused unless Insecure has Image.
	OCIVerifier OCIVerifier
	// DockerAuth holds auth.d's dockerAuth credentials, by registry host.
	DockerAuth map[string]DockerCredential
	// DiscoveryPort, when not 0, is the port discovery connects to instead
	// of the scheme's default.
	DiscoveryPort uint
}

// maxDepth bounds dependency chains.
const maxDepth = 32

// Fetch fetches ref (and, recursively, its dependencies), renders its tree
// and returns its image key. signature, when not empty, is the detached
// signature's path or URL (instead of <ref>.asc or the discovered one).
//
// It is all or nothing: when a dependency cannot be had, the images this
// call stored (ref's and its dependencies') are removed again.
func (f *Fetcher) Fetch(ctx context.Context, ref string, signature string) (key string, err error) {
	added := &addedImages{}
	ctx = context.WithValue(ctx, addedImagesKey{}, added)
	key, err = f.fetchRef(ctx, ref, signature)
	if err != nil {
		return "", err
	}
	if err := f.fetchDeps(ctx, key, nil, map[string]bool{}); err != nil {
		err = fmt.Errorf("fetching %q: %w", ref, err)
		for _, k := range added.list() {
			if rerr := f.Store.Remove(k); rerr != nil {
				err = errors.Join(err, fmt.Errorf("removing %s, stored by this fetch: %w", k, rerr))
			}
		}
		return "", err
	}
	// Only root renders trees (they keep the image's owners); a member
	// of group rkt fetches into the store and root renders at run time,
	// as in rkt 1.30.
	if os.Geteuid() == 0 {
		if _, err := f.Store.Render(ctx, key); err != nil {
			return "", fmt.Errorf("fetching %q: rendering %s: %w", ref, key, err)
		}
	}
	return key, nil
}

// addedImages collects the keys of the images that one Fetch call stored
// and that were not in the store before it, so that a failed dependency
// can take them out again. It travels in the context (addedImagesKey).
type addedImages struct {
	mu   sync.Mutex
	keys []string
}

type addedImagesKey struct{}

func (a *addedImages) add(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keys = append(a.keys, key)
}

func (a *addedImages) list() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.keys)
}

// noteAdded records key in ctx's addedImages, if any, when existed is false.
func noteAdded(ctx context.Context, key string, existed bool) {
	if a, ok := ctx.Value(addedImagesKey{}).(*addedImages); ok && !existed {
		a.add(key)
	}
}

type refKind int

const (
	refID refKind = iota
	refFile
	refURL
	refName
	refDocker
	refLocalOCI
)

// classify tells what kind of reference ref is, as rkt did: a sha512- hash,
// a URL by its scheme, an existing file, a path-looking string, else an
// appc name.
func classify(ref string) (refKind, string, error) {
	switch {
	case strings.HasPrefix(ref, "sha512-"):
		return refID, ref, nil
	case strings.HasPrefix(ref, "https://"), strings.HasPrefix(ref, "http://"):
		return refURL, ref, nil
	case strings.HasPrefix(ref, "file://"):
		return refFile, strings.TrimPrefix(ref, "file://"), nil
	case strings.HasPrefix(ref, "docker://"):
		return refDocker, ref, nil
	case strings.HasPrefix(ref, prefixOCIArchive), strings.HasPrefix(ref, prefixOCILayout), strings.HasPrefix(ref, prefixDockerArchive):
		return refLocalOCI, ref, nil
	case strings.HasPrefix(ref, "cimd:"), strings.Contains(ref, "://"):
		return 0, "", fmt.Errorf("fetching %q: %w", ref, ErrUnsupportedRef)
	}
	if st, err := os.Stat(ref); err == nil && !st.IsDir() {
		return refFile, ref, nil
	}
	if strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "../") || strings.HasSuffix(ref, ".aci") {
		return refFile, ref, nil
	}
	return refName, ref, nil
}

func (f *Fetcher) fetchRef(ctx context.Context, ref, signature string) (string, error) {
	kind, target, err := classify(ref)
	if err != nil {
		return "", err
	}
	switch kind {
	case refID:
		key, err := f.Store.ResolveKey(target)
		if err != nil {
			return "", fmt.Errorf("fetching %q: %w: %w (an image ID is only looked up in the store)", ref, ErrNotInStore, err)
		}
		return key, nil
	case refFile:
		return f.fetchFile(ctx, target, signature)
	case refDocker:
		return f.fetchDocker(ctx, target)
	case refLocalOCI:
		return f.fetchLocalOCI(ctx, target)
	case refURL:
		return f.fetchRemote(ctx, remoteSpec{ref: ref, aciURL: target, sigURL: signature})
	default:
		img, err := discovery.ParseName(target)
		if err != nil {
			return "", fmt.Errorf("fetching %q: %w", ref, err)
		}
		return f.fetchName(ctx, ref, img, signature)
	}
}

func (f *Fetcher) log() *slog.Logger {
	if f.Log == nil {
		return slog.Default()
	}
	return f.Log
}

// LevelDiag is the level of rkt 1.30's diagnostic lines ("using image from
// file …", "fetching image from …"): shown with --debug, worded as rkt
// worded them, which scripts and rkt's own tests match, and printed without
// the "debug:" marker of the other debug lines.
const LevelDiag = slog.LevelDebug + 2

// diag logs one of rkt 1.30's diagnostic lines.
func (f *Fetcher) diag(format string, a ...any) {
	f.log().Log(context.Background(), LevelDiag, fmt.Sprintf(format, a...))
}

// warnNoVerification is the one place skipping a signature check is noted.
func (f *Fetcher) warnNoVerification(ref string) {
	f.log().Warn("signature verification has been disabled (--insecure-options=image)", "image", ref)
}

// fetchFile imports a local ACI; files are always imported, whatever the
// pull policy, since reading them needs no network.
func (f *Fetcher) fetchFile(ctx context.Context, path, signature string) (string, error) {
	f.diag("using image from file %s", path)
	file, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("fetching %q: %w", path, err)
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return "", fmt.Errorf("fetching %q: %w", path, err)
	}
	var sig *trust.Signature
	if f.Insecure.Has(insecure.Image) {
		f.warnNoVerification(path)
	} else {
		if signature == "" {
			signature = path + ".asc"
		}
		sig, err = f.readSignature(ctx, signature)
		if err != nil {
			return "", fmt.Errorf("fetching %q: %w", path, err)
		}
	}
	return f.ingest(ctx, source{ref: path, label: "Reading ACI", body: file, size: st.Size()}, sig, nil, store.ImportMeta{})
}

// readSignature reads and parses a detached signature from a path or URL.
// A missing one is ErrNoSignature, with the fix.
func (f *Fetcher) readSignature(ctx context.Context, where string) (*trust.Signature, error) {
	var data []byte
	var err error
	if strings.HasPrefix(where, "https://") || strings.HasPrefix(where, "http://") {
		data, err = f.download(ctx, where, maxSignatureSize)
		if errors.Is(err, errHTTPNotFound) {
			err = fmt.Errorf("%w at %s: %w", ErrNoSignature, where, os.ErrNotExist)
		}
	} else {
		data, err = readFileLimited(strings.TrimPrefix(where, "file://"), maxSignatureSize)
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%w: %w", ErrNoSignature, err)
		}
	}
	if errors.Is(err, ErrNoSignature) {
		return nil, fmt.Errorf("%w (sign the image, give its signature with --signature, or skip verification with --insecure-options=image)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading signature %s: %w", where, err)
	}
	sig, err := trust.ParseSignature(data)
	if err != nil {
		return nil, fmt.Errorf("reading signature %s: %w", where, err)
	}
	return sig, nil
}

const (
	maxSignatureSize = 1 << 20
	maxKeySize       = 1 << 20
)

func readFileLimited(path string, limit int64) ([]byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w (more than %d bytes)", path, ErrTooLarge, limit)
	}
	return data, nil
}

// fetchName fetches an appc name: from the store when the policy allows,
// else through discovery.
func (f *Fetcher) fetchName(ctx context.Context, ref string, img discovery.Image, signature string) (string, error) {
	if f.PullPolicy != PullUpdate {
		key, err := f.Store.FindByName(img.Name, img.Labels)
		if err == nil {
			f.diag("using image from local store for image name %s", img.String())
			return key, nil
		}
		if f.PullPolicy == PullNever {
			return "", fmt.Errorf("fetching %q: %w: %w (pull policy %q forbids going to the network)", ref, ErrNotInStore, err, f.PullPolicy)
		}
	}
	eps, err := discovery.DiscoverACI(ctx, discovery.Options{Client: f.Client, Insecure: f.Insecure, Port: f.DiscoveryPort}, img)
	if err != nil {
		return "", fmt.Errorf("fetching %q: %w", ref, err)
	}
	_, versioned := img.Labels["version"]
	var errs []error
	for _, ep := range eps {
		sigURL := ep.ASC
		if signature != "" {
			sigURL = signature
		}
		key, err := f.fetchRemote(ctx, remoteSpec{ref: ref, aciURL: ep.ACI, sigURL: sigURL, want: &img, latest: !versioned, discovered: true})
		if err == nil {
			return key, nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
}

// matches checks a manifest against the name and labels asked for. The os
// and arch labels filled in by default may be absent from the manifest, but
// not different.
func matches(m *schema.ImageManifest, want *discovery.Image) error {
	got := map[string]string{}
	for _, l := range m.Labels {
		got[l.Name.String()] = l.Value
	}
	mm := &MismatchError{Want: want.Name, WantLabels: want.Labels, Got: m.Name.String(), GotLabels: got}
	if m.Name.String() != want.Name {
		return mm
	}
	defOS, defArch, err := types.ToAppcOSArch(runtime.GOOS, runtime.GOARCH, "")
	if err != nil {
		defOS, defArch = runtime.GOOS, runtime.GOARCH
	}
	for k, v := range want.Labels {
		g, ok := got[k]
		if ok && g == v {
			continue
		}
		if !ok && ((k == "os" && v == defOS) || (k == "arch" && v == defArch)) {
			continue
		}
		return mm
	}
	return nil
}

// fetchDeps fetches the dependencies of key, depth first. stack holds the
// keys being fetched above key; done the keys whose dependencies are in.
func (f *Fetcher) fetchDeps(ctx context.Context, key string, stack []string, done map[string]bool) error {
	if done[key] {
		return nil
	}
	if len(stack) >= maxDepth {
		return fmt.Errorf("fetching dependencies of %s: %w: more than %d levels", key, ErrDependencyCycle, maxDepth)
	}
	m, _, err := f.Store.Manifest(key)
	if err != nil {
		return fmt.Errorf("reading manifest of %s: %w", key, err)
	}
	stack = append(stack, key)
	for _, d := range m.Dependencies {
		depKey, err := f.fetchDep(ctx, d)
		if err != nil {
			return fmt.Errorf("fetching dependency %q of %q: %w", d.ImageName, m.Name, err)
		}
		for _, k := range stack {
			if k == depKey {
				return fmt.Errorf("fetching dependency %q of %q: %w: %s", d.ImageName, m.Name, ErrDependencyCycle, strings.Join(append(stack, depKey), " -> "))
			}
		}
		if err := f.fetchDeps(ctx, depKey, stack, done); err != nil {
			return err
		}
	}
	done[key] = true
	return nil
}

// keyLen is the length of a store key: "sha512-" and 64 hex digits.
const keyLen = len("sha512-") + 64

func shortKey(id string) string {
	if len(id) > keyLen {
		return id[:keyLen]
	}
	return id
}

func (f *Fetcher) fetchDep(ctx context.Context, d types.Dependency) (string, error) {
	var wantID string
	if d.ImageID != nil {
		wantID = shortKey(d.ImageID.String())
		if key, err := f.Store.ResolveKey(wantID); err == nil {
			return key, nil
		}
	}
	img := discovery.Image{Name: d.ImageName.String(), Labels: map[string]string{}}
	for _, l := range d.Labels {
		img.Labels[l.Name.String()] = l.Value
	}
	if def, err := discovery.ParseName(img.Name); err == nil {
		for _, k := range []string{"os", "arch"} {
			if _, ok := img.Labels[k]; !ok {
				img.Labels[k] = def.Labels[k]
			}
		}
	}
	key, err := f.fetchName(ctx, img.String(), img, "")
	if err != nil {
		return "", err
	}
	if wantID != "" && !strings.HasPrefix(key, wantID) {
		return "", fmt.Errorf("dependency %q resolved to %s, but the manifest asks for image ID %s", d.ImageName, key, d.ImageID)
	}
	return key, nil
}
