package fetch

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rkt/rkt/common/tarsafe"
	"github.com/rkt/rkt/stage0/discovery"
	"github.com/rkt/rkt/stage0/insecure"
	"github.com/rkt/rkt/stage0/transport"
	"github.com/rkt/rkt/stage0/trust"
	"github.com/rkt/rkt/store"
	"github.com/rkt/rkt/store/index"
)

// remoteSpec is one ACI URL to fetch.
type remoteSpec struct {
	ref        string           // what the user asked for, for messages
	aciURL     string           // the image
	sigURL     string           // its signature; "" means aciURL + ".asc"
	want       *discovery.Image // name and labels the manifest must carry
	latest     bool             // discovered without a version label
	discovered bool             // from an appc name: key discovery allowed
}

var (
	errHTTPNotFound = errors.New("not found (HTTP 404)")
	// errSignatureDeferred: the signature URL answered 202 Accepted, which
	// asks the client to download the image first and the signature
	// after (rkt 1.30's deferred signature download).
	errSignatureDeferred = errors.New("signature not ready (HTTP 202 Accepted)")
	errNoClient          = errors.New("no HTTP client configured")
)

// cacheControl is what the fetcher honours of Cache-Control.
type cacheControl struct {
	maxAge  time.Duration
	noStore bool
}

func parseCacheControl(h http.Header) cacheControl {
	var cc cacheControl
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			switch {
			case d == "no-store":
				cc.noStore = true
			case d == "no-cache":
				cc.maxAge = 0
			case strings.HasPrefix(d, "max-age="):
				if n, err := strconv.ParseInt(strings.TrimPrefix(d, "max-age="), 10, 64); err == nil && n > 0 {
					cc.maxAge = time.Duration(n) * time.Second
				}
			}
		}
	}
	return cc
}

// cached returns the stored key of a remote row when its image is still in
// the store.
func (f *Fetcher) cached(aciURL string) (*index.Remote, string) {
	row, err := f.Store.Remote(aciURL)
	if err != nil || row == nil || row.BlobKey == "" {
		return nil, ""
	}
	key, err := f.Store.ResolveKey(row.BlobKey)
	if err != nil {
		return nil, ""
	}
	return row, key
}

func (f *Fetcher) fetchRemote(ctx context.Context, spec remoteSpec) (string, error) {
	if spec.sigURL == "" {
		spec.sigURL = spec.aciURL + ".asc"
	}
	row, have := f.cached(spec.aciURL)
	if have != "" {
		switch {
		case f.PullPolicy != PullUpdate:
			f.diag("using image from local store for url %s", spec.aciURL)
			return have, nil
		case row.CacheMaxAge > 0 && time.Since(row.DownloadTime) < row.CacheMaxAge:
			f.log().Debug("using cached image", "url", spec.aciURL, "key", have)
			return have, nil
		}
	} else if f.PullPolicy == PullNever {
		return "", fmt.Errorf("fetching %q: %w (pull policy %q forbids downloading %s)", spec.ref, ErrNotInStore, f.PullPolicy, spec.aciURL)
	}

	// One download of a URL at a time: a second fetcher waits for the
	// first, then uses what it stored instead of downloading it again.
	lk, waited, err := f.Store.LockDownload(ctx, spec.aciURL, func() {
		f.log().Info(fmt.Sprintf("waiting for another fetch of %s", spec.aciURL))
	})
	if err != nil {
		return "", fmt.Errorf("fetching %q: %w", spec.ref, err)
	}
	defer lk.Close()
	if waited {
		if row2, have2 := f.cached(spec.aciURL); have2 != "" && (row == nil || row2.DownloadTime.After(row.DownloadTime)) {
			f.log().Debug("using the image another fetch stored", "url", spec.aciURL, "key", have2)
			return have2, nil
		}
	}

	if f.Client == nil {
		return "", fmt.Errorf("fetching %q: %w", spec.ref, errNoClient)
	}
	f.diag("remote fetching from URL %q", spec.aciURL)
	f.diag("fetching image from %s", spec.aciURL)
	// An earlier download of the URL that was cut off is resumed: the
	// rest is asked for, if the resource is still the one whose start
	// was kept (If-Range), and the whole is spooled and verified as one.
	part, err := f.Store.Partial(spec.aciURL)
	if err != nil {
		f.log().Debug("not resuming a partial download", "url", spec.aciURL, "err", err)
		part = nil
	}
	get := func(part *store.Partial) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, spec.aciURL, nil)
		if err != nil {
			return nil, err
		}
		if have != "" && row.ETag != "" {
			req.Header.Set("If-None-Match", row.ETag)
		}
		if part != nil {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", part.Size))
			req.Header.Set("If-Range", part.Validator())
		}
		return f.Client.Do(req)
	}
	resp, err := get(part)
	if err == nil && part != nil && resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		// The kept bytes are no start of this resource: start over.
		resp.Body.Close()
		f.dropPartial(spec.aciURL)
		part = nil
		resp, err = get(nil)
	}
	if err != nil {
		return "", fmt.Errorf("fetching %q: downloading %s: %w", spec.ref, spec.aciURL, err)
	}
	defer func() { resp.Body.Close() }()
	cc := parseCacheControl(resp.Header)

	if resp.StatusCode == http.StatusNotModified && have != "" {
		if !cc.noStore {
			r := *row
			r.DownloadTime = time.Now()
			r.CacheMaxAge = cc.maxAge
			if etag := resp.Header.Get("ETag"); etag != "" {
				r.ETag = etag
			}
			if err := f.Store.PutRemote(r); err != nil {
				return "", fmt.Errorf("fetching %q: recording the cache entry of %s: %w", spec.ref, spec.aciURL, err)
			}
		}
		f.log().Debug("image not modified", "url", spec.aciURL, "key", have)
		return have, nil
	}
	var body io.Reader = resp.Body
	size := resp.ContentLength
	switch {
	case resp.StatusCode == http.StatusPartialContent && part != nil && resumes(resp, part):
		kept, err := os.Open(part.Path)
		if err != nil {
			return "", fmt.Errorf("fetching %q: resuming the download of %s: %w", spec.ref, spec.aciURL, err)
		}
		defer kept.Close()
		body = io.MultiReader(kept, resp.Body)
		if size >= 0 {
			size += part.Size
		}
		f.log().Info(fmt.Sprintf("resuming the download of %s at byte %d", spec.aciURL, part.Size))
	case resp.StatusCode == http.StatusOK:
		if part != nil {
			// The resource changed since its start was kept.
			f.dropPartial(spec.aciURL)
		}
	default:
		if part != nil {
			f.dropPartial(spec.aciURL)
		}
		return "", fmt.Errorf("fetching %q: downloading %s: %w", spec.ref, spec.aciURL, statusError(resp))
	}

	// The response headers are in; the signature is read before any byte
	// of the body.
	var sig *trust.Signature
	var deferred func(context.Context) (*trust.Signature, error)
	if f.Insecure.Has(insecure.Image) {
		f.warnNoVerification(spec.ref)
	} else {
		sig, err = f.readSignature(ctx, spec.sigURL)
		if errors.Is(err, errSignatureDeferred) {
			// As rkt 1.30: the image first, then the signature once more,
			// which must come this time. Nothing is decompressed before
			// it is verified either way.
			f.log().Debug("signature deferred by the server: downloading the image first", "url", spec.sigURL)
			deferred = func(ctx context.Context) (*trust.Signature, error) {
				sig, err := f.readSignature(ctx, spec.sigURL)
				if errors.Is(err, errSignatureDeferred) {
					return nil, fmt.Errorf("%w: the server asked to defer the signature download again", err)
				}
				return sig, err
			}
		} else if err != nil {
			return "", fmt.Errorf("fetching %q: %w", spec.ref, err)
		}
	}
	meta := store.ImportMeta{Latest: spec.latest}
	if !cc.noStore {
		meta.Remote = &index.Remote{
			ACIURL:       spec.aciURL,
			SigURL:       spec.sigURL,
			ETag:         resp.Header.Get("ETag"),
			CacheMaxAge:  cc.maxAge,
			DownloadTime: time.Now(),
		}
	}
	src := source{ref: spec.ref, label: "Downloading ACI", body: body, size: size, deferredSig: deferred,
		partial: &store.Partial{URL: spec.aciURL, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}}
	v := verifyOpts{want: spec.want, discoverKeys: spec.discovered}
	return f.ingest(ctx, src, sig, &v, meta)
}

func statusError(resp *http.Response) error {
	if resp.StatusCode == http.StatusNotFound {
		return errHTTPNotFound
	}
	return fmt.Errorf("unexpected HTTP status %s", resp.Status)
}

// download reads a small resource (signature, key) whole, refusing more than
// limit bytes.
func (f *Fetcher) download(ctx context.Context, url string, limit int64) ([]byte, error) {
	return download(ctx, f.Client, url, limit)
}

func download(ctx context.Context, c *http.Client, url string, limit int64) ([]byte, error) {
	if c == nil {
		return nil, errNoClient
	}
	data, err := transport.Get(ctx, c, url, limit)
	var se *transport.StatusError
	switch {
	case errors.As(err, &se) && se.Code == http.StatusNotFound:
		return nil, errHTTPNotFound
	case errors.As(err, &se) && se.Code == http.StatusAccepted:
		return nil, errSignatureDeferred
	case errors.Is(err, transport.ErrTooLarge):
		return nil, fmt.Errorf("%s: %w (more than %d bytes)", url, ErrTooLarge, limit)
	}
	return data, err
}

// source is one opened image body.
type source struct {
	ref   string // for messages
	label string // for the progress bar
	body  io.Reader
	size  int64 // -1 when unknown
	// deferredSig, when not nil, gets the signature once the image is
	// spooled (its first download answered 202 Accepted).
	deferredSig func(context.Context) (*trust.Signature, error)
	// partial, for a download, names the URL and its validators: a body
	// cut off midway is kept (store.Spool.KeepAsPartial) for the next
	// fetch to resume; nil for a local file.
	partial *store.Partial
}

// resumes reports whether a 206 answer carries the rest of the resource
// whose start p holds: its range starts where p ends and, when both have
// one, its ETag is p's.
func resumes(resp *http.Response, p *store.Partial) bool {
	var start, end, total int64
	if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &start, &end, &total); err != nil || start != p.Size {
		return false
	}
	etag := resp.Header.Get("ETag")
	return p.ETag == "" || etag == "" || etag == p.ETag
}

// dropPartial forgets a partial download that cannot be resumed.
func (f *Fetcher) dropPartial(url string) {
	if err := f.Store.DropPartial(url); err != nil {
		f.log().Debug("removing a partial download", "url", url, "err", err)
	}
}

// keepable reports whether the download that failed with err may be
// resumed: not when a limit of the store stopped it (it would stop again).
func keepable(err error) bool {
	var le *tarsafe.LimitError
	var fe *store.FreeSpaceError
	return !errors.As(err, &le) && !errors.As(err, &fe)
}

// verifyOpts are the checks beyond the signature.
type verifyOpts struct {
	want         *discovery.Image
	discoverKeys bool
}

// ingest brings one image into the store, verifying before decompressing:
//
//  1. the bytes as fetched are spooled into the ingest's temp area while
//     hashed for the signature (and, for a plain tar, for the image ID);
//  2. the signature is verified, for the name asked for or, when fetching
//     a file or URL, the name in the manifest, read from the spool into
//     memory (bounded) without writing anything;
//  3. only then is the spool decompressed into the store's ingest, under
//     its limits; a plain tar spool becomes the blob as is;
//  4. the manifest must carry the name verified (and the labels asked
//     for) before the ingest is committed.
//
// sig is nil only when signature checks are disabled; the limits hold
// then too.
func (f *Fetcher) ingest(ctx context.Context, src source, sig *trust.Signature, v *verifyOpts, meta store.ImportMeta) (key string, retErr error) {
	if v == nil {
		v = &verifyOpts{}
	}
	in, err := f.Store.NewIngest()
	if err != nil {
		return "", fmt.Errorf("fetching %q: %w", src.ref, err)
	}
	defer func() {
		if retErr != nil {
			in.Abort()
			retErr = withLimitHint(retErr)
		}
	}()
	sp, err := in.NewSpool()
	if err != nil {
		return "", fmt.Errorf("fetching %q: %w", src.ref, err)
	}

	start := time.Now()
	body, done := f.progress(src)
	spd, err := spool(ctx, body, sp, sig, in.TarLimits())
	done()
	if err != nil {
		if src.partial != nil && keepable(err) {
			if kerr := sp.KeepAsPartial(*src.partial); kerr != nil {
				f.log().Debug("keeping a partial download", "url", src.partial.URL, "err", kerr)
			} else if src.partial.Validator() != "" && sp.Size() > 0 {
				f.log().Info(fmt.Sprintf("kept the %d bytes downloaded from %s: the next fetch resumes there", sp.Size(), src.partial.URL))
			}
		}
		return "", fmt.Errorf("fetching %q: %w", src.ref, err)
	}
	if src.partial != nil {
		// Whole now: the kept start, if any, is spooled with the rest.
		f.dropPartial(src.partial.URL)
	}
	if sig == nil && src.deferredSig != nil {
		if sig, err = src.deferredSig(ctx); err != nil {
			return "", fmt.Errorf("fetching %q: %w", src.ref, err)
		}
		r, err := sp.Reader()
		if err != nil {
			return "", fmt.Errorf("fetching %q: %w", src.ref, err)
		}
		spd.sigHash = sig.NewHash()
		if _, err := io.Copy(spd.sigHash, r); err != nil {
			return "", fmt.Errorf("fetching %q: hashing the spooled image: %w", src.ref, err)
		}
	}
	fm := spd.format
	f.log().Debug("image spooled", "image", src.ref, "format", fm, "bytes", sp.Size(), "took", time.Since(start))

	var name string
	if sig != nil {
		if v.want != nil {
			name = v.want.Name
		} else {
			r, err := sp.Reader()
			if err != nil {
				return "", fmt.Errorf("fetching %q: %w", src.ref, err)
			}
			if name, err = manifestName(r, fm); err != nil {
				return "", fmt.Errorf("fetching %q: verifying signature: %w", src.ref, err)
			}
		}
		verdict, err := f.verify(ctx, name, sig, spd.sigHash, v.discoverKeys)
		if err != nil {
			return "", fmt.Errorf("fetching %q: verifying signature: %w", src.ref, err)
		}
		f.log().Info("signature verified", "image", name, "signer", verdict.UserID, "fingerprint", verdict.Fingerprint, "prefix", verdict.Prefix)
	}

	if spd.idHash != nil {
		if err := in.SpoolIsBlob(spd.idHash); err != nil {
			return "", fmt.Errorf("fetching %q: %w", src.ref, err)
		}
	}
	if spd.digests != nil {
		if err := in.UseDigests(spd.digests); err != nil {
			return "", fmt.Errorf("fetching %q: %w", src.ref, err)
		}
	}
	r, err := sp.Reader()
	if err != nil {
		return "", fmt.Errorf("fetching %q: %w", src.ref, err)
	}
	if err := decompressInto(in, r, fm); err != nil {
		return "", fmt.Errorf("fetching %q: %w", src.ref, err)
	}
	pending, err := in.Finish()
	if err != nil {
		return "", fmt.Errorf("fetching %q: %w", src.ref, err)
	}
	f.log().Debug("image extracted", "image", src.ref, "took", time.Since(start))
	if v.want != nil {
		if err := matches(pending.Manifest, v.want); err != nil {
			return "", fmt.Errorf("fetching %q: %w", src.ref, err)
		}
	}
	if got := pending.Manifest.Name.String(); sig != nil && got != name {
		return "", fmt.Errorf("fetching %q: verifying signature: %w", src.ref, &MismatchError{Want: name, Got: got})
	}
	_, notStored := f.Store.Image(pending.Key) // one index row, not a scan
	key, err = in.Commit(meta)
	if err != nil {
		return "", fmt.Errorf("fetching %q: storing %s: %w", src.ref, pending.Key, err)
	}
	noteAdded(ctx, key, notStored == nil)
	return key, nil
}

// withLimitHint adds to an error from a fetch limit the setting that
// raises it.
func withLimitHint(err error) error {
	var le *tarsafe.LimitError
	if !errors.As(err, &le) {
		return err
	}
	setting := "maxImageSize"
	if le.Limit == tarsafe.LimitEntries {
		setting = "maxFiles"
	}
	return fmt.Errorf("%w (to allow larger images, raise %q in a fetch.d configuration file: see rkt's image-fetching documentation)", err, setting)
}

// isFreshSHA512 reports whether h is a sha512 state with nothing written
// yet (a v6 signature's hash starts with its salt: it is not), which the
// store's state can then replace.
func isFreshSHA512(h hash.Hash) bool {
	m, ok := h.(encoding.BinaryMarshaler)
	if _, ok2 := h.(encoding.BinaryUnmarshaler); !ok || !ok2 {
		return false
	}
	got, err := m.MarshalBinary()
	if err != nil {
		return false
	}
	want, err := sha512.New().(encoding.BinaryMarshaler).MarshalBinary()
	return err == nil && bytes.Equal(got, want)
}

// verify checks sig over h for name. With TrustKeysFromHTTPS and an appc
// name, an unknown signer leads to key discovery for name over https; the
// keys found are trusted for name, with a warning, and the check runs again.
// Only an unknown signer leads there: when a key already trusted for name
// made a signature that was refused (bad, expired, revoked, weak), the image
// is refused as it is, whatever other signers the file names; discovering
// more keys must not outvote a trusted key.
func (f *Fetcher) verify(ctx context.Context, name string, sig *trust.Signature, h hash.Hash, discoverKeys bool) (*trust.Verdict, error) {
	var snapshot []byte
	if f.TrustKeysFromHTTPS && discoverKeys {
		if m, ok := h.(encoding.BinaryMarshaler); ok {
			snapshot, _ = m.MarshalBinary()
		}
	}
	verdict, err := f.Keystore.Verify(name, sig, h, time.Now())
	var unknown *trust.UnknownSignerError
	var byTrusted *trust.SignatureError
	if err == nil || !errors.As(err, &unknown) || errors.As(err, &byTrusted) || snapshot == nil {
		return verdict, err
	}
	if terr := f.trustDiscoveredKeys(ctx, name); terr != nil {
		return nil, fmt.Errorf("%w; trusting keys discovered for %q: %w", err, name, terr)
	}
	h2 := sig.NewHash()
	u, ok := h2.(encoding.BinaryUnmarshaler)
	if !ok {
		return nil, err
	}
	if uerr := u.UnmarshalBinary(snapshot); uerr != nil {
		return nil, err
	}
	return f.Keystore.Verify(name, sig, h2, time.Now())
}

// trustDiscoveredKeys discovers the keys of name and trusts them for name.
// Keys must come over verified https unless the insecure set has PubKey.
func (f *Fetcher) trustDiscoveredKeys(ctx context.Context, name string) error {
	adder, ok := f.Keystore.(keyAdder)
	if !ok {
		return errors.New("the keystore cannot add keys")
	}
	pubkeyInsecure := f.Insecure.Has(insecure.PubKey)
	if f.Insecure.Has(insecure.TLS) && !pubkeyInsecure {
		return errors.New("TLS verification is off (--insecure-options=tls): keys are not trusted over unverified TLS unless --insecure-options=pubkey is given too")
	}
	opts := discovery.Options{Client: f.Client, Port: f.DiscoveryPort}
	if pubkeyInsecure {
		opts.Insecure = insecure.HTTP
	}
	urls, err := discovery.DiscoverPublicKeys(ctx, opts, name)
	if err != nil {
		return err
	}
	added := 0
	var errs []error
	for _, u := range urls {
		if !strings.HasPrefix(u, "https://") && !pubkeyInsecure {
			errs = append(errs, fmt.Errorf("key %s: not https (allow with --insecure-options=pubkey)", u))
			continue
		}
		data, err := f.download(ctx, u, maxKeySize)
		if err != nil {
			errs = append(errs, fmt.Errorf("downloading key %s: %w", u, err))
			continue
		}
		k, err := trust.ParseKey(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("key %s: %w", u, err))
			continue
		}
		path, _, err := adder.Add(name, k)
		if err != nil {
			errs = append(errs, fmt.Errorf("trusting key %s: %w", u, err))
			continue
		}
		f.log().Warn("trusting a key discovered over https (--trust-keys-from-https)",
			"prefix", name, "fingerprint", k.Fingerprint, "userIDs", strings.Join(k.UserIDs, "; "), "url", u, "path", path)
		added++
	}
	if added == 0 {
		errs = append(errs, errors.New("no usable key found"))
		return errors.Join(errs...)
	}
	return nil
}
