package fetch

import (
	"context"
	"crypto"
	"crypto/sha512"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/appc/spec/schema"

	v1 "github.com/rkt/rkt/api/v1"
	"github.com/rkt/rkt/common/acimanifest"
	"github.com/rkt/rkt/common/tarsafe"
	"github.com/rkt/rkt/stage0/trust"
	"github.com/rkt/rkt/store"
)

// cappedReader fails with a *tarsafe.LimitError once more than max bytes
// have been read (max 0: no cap).
type cappedReader struct {
	r         io.Reader
	left, max int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.max <= 0 {
		return c.r.Read(p)
	}
	if c.left <= 0 {
		// One byte more tells a stream that ends exactly at the cap.
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n == 0 {
			return 0, io.EOF
		}
		return 0, &tarsafe.LimitError{Limit: tarsafe.LimitSize, Max: c.max}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// CheckOptions configures Check.
type CheckOptions struct {
	// Keystore holds the trusted keys.
	Keystore verifier
	// Client downloads URLs (from stage0/transport); unused for files.
	Client *http.Client
	// Progress receives a progress bar when it is a terminal.
	Progress io.Writer
	// Log receives diagnostics. Nil: slog.Default().
	Log *slog.Logger
	// Limits bound the uncompressed image (size, entries); the zero value
	// means store.DefaultLimits. The free-space floor does not apply:
	// Check writes nothing.
	Limits store.Limits
}

// Check verifies an image file or https URL and its detached signature
// (signature, or <ref>.asc) the way Fetch does, without a store: the bytes
// pass once through the signature hash, the decompressor, the tar checks of
// common/tarsafe and the image-ID hash, and nothing is written. It returns
// the verdict, and an error when the image is not verified; the verdict is
// returned then too, with Error set and what was learnt before the refusal.
// Decompression is bounded by the limits, so a bomb costs at most their
// worth of CPU and no memory or disk.
func Check(ctx context.Context, opts CheckOptions, ref string, signature string) (*v1.SignatureVerdict, error) {
	verdict := &v1.SignatureVerdict{Labels: map[string]string{}}
	err := check(ctx, opts, ref, signature, verdict)
	if err != nil {
		err = withLimitHint(fmt.Errorf("checking %q: %w", ref, err))
		verdict.Verified = false
		verdict.Error = err.Error()
		return verdict, err
	}
	verdict.Verified = true
	return verdict, nil
}

func check(ctx context.Context, opts CheckOptions, ref, signature string, verdict *v1.SignatureVerdict) error {
	var body io.ReadCloser
	var size int64 = -1
	isURL := strings.HasPrefix(ref, "https://") || strings.HasPrefix(ref, "http://")
	if signature == "" {
		signature = ref + ".asc"
	}
	if isURL {
		if opts.Client == nil {
			return errNoClient
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ref, nil)
		if err != nil {
			return err
		}
		resp, err := opts.Client.Do(req)
		if err != nil {
			return fmt.Errorf("downloading: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return fmt.Errorf("downloading: %w", statusError(resp))
		}
		body, size = resp.Body, resp.ContentLength
	} else {
		path := strings.TrimPrefix(ref, "file://")
		file, err := os.Open(path)
		if err != nil {
			return err
		}
		if st, err := file.Stat(); err == nil {
			size = st.Size()
		}
		body = file
	}
	defer body.Close()

	f := &Fetcher{Client: opts.Client}
	sig, err := f.readSignature(ctx, signature)
	if err != nil {
		return err
	}

	src := source{ref: ref, label: "Checking ACI", body: body, size: size}
	in, done := progressReader(opts.Progress, src)
	sigHash := sig.NewHash()
	idHash := sha512.New()
	handOver := false
	choose := func(fm format) hash.Hash {
		if fm == formatTar && sig.Hash() == crypto.SHA512 && isFreshSHA512(sigHash) {
			handOver = true
			return nil
		}
		return sigHash
	}
	lim := opts.Limits
	if lim == (store.Limits{}) {
		lim = store.DefaultLimits
	}
	var result *tarsafe.Result
	consume := func(r io.Reader) error {
		tr := io.TeeReader(&cappedReader{r: r, left: lim.MaxImageSize, max: lim.MaxImageSize}, idHash)
		res, err := tarsafe.Check(tr, tarsafe.Limits{MaxSize: lim.MaxImageSize, MaxEntries: lim.MaxFiles})
		if err != nil {
			return fmt.Errorf("checking the tar: %w", err)
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return err
		}
		result = res
		return nil
	}
	_, err = pump(ctx, in, choose, consume)
	done()
	if err != nil {
		return err
	}
	verdict.ImageID = "sha512-" + hex.EncodeToString(idHash.Sum(nil))[:64]
	if result.Manifest == nil {
		return errors.New("checking the tar: no manifest")
	}
	var m schema.ImageManifest
	if err := acimanifest.UnmarshalImage(result.Manifest, &m); err != nil {
		return fmt.Errorf("reading the manifest: %w", err)
	}
	verdict.Name = m.Name.String()
	for _, l := range m.Labels {
		verdict.Labels[l.Name.String()] = l.Value
	}
	if handOver {
		state, err := idHash.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return fmt.Errorf("verifying signature: copying the image hash: %w", err)
		}
		if err := sigHash.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
			return fmt.Errorf("verifying signature: copying the image hash: %w", err)
		}
	}
	v, err := opts.Keystore.Verify(verdict.Name, sig, sigHash, time.Now())
	if err != nil {
		var unknown *trust.UnknownSignerError
		var bad *trust.SignatureError
		switch {
		case errors.As(err, &unknown):
			verdict.Signer = v1.Signer{Fingerprint: unknown.Fingerprint, KeyID: unknown.KeyID}
		case errors.As(err, &bad):
			verdict.Signer = v1.Signer{Fingerprint: bad.Fingerprint, KeyID: sig.IssuerKeyID()}
			verdict.TrustedPrefix = bad.Prefix
			verdict.Root = bad.Prefix == ""
		default:
			verdict.Signer = v1.Signer{Fingerprint: sig.IssuerFingerprint(), KeyID: sig.IssuerKeyID()}
		}
		return fmt.Errorf("verifying signature: %w", err)
	}
	verdict.Signer = v1.Signer{UserID: v.UserID, Fingerprint: v.Fingerprint, KeyID: v.SignerKeyID}
	verdict.TrustedPrefix = v.Prefix
	verdict.Root = v.Prefix == ""
	return nil
}
