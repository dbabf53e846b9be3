package fetch

import (
	"bufio"
	"context"
	"crypto/sha512"
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
// (signature, or <ref>.asc) the way Fetch does, without a store, verify
// first: the bytes as given pass through the signature hash, the
// manifest's name is read from the start of the image and the signature is
// verified for it; only a verified image is then decompressed and passed
// through the tar checks of common/tarsafe and the image-ID hash. Nothing
// is written but, for a URL, a temp file of the download as it came
// (compressed), removed on return. It returns the verdict, and an error
// when the image is not verified; the verdict is returned then too, with
// Error set and what was learnt before the refusal (the image ID only for
// a plain tar, whose ID needs no decompression). Decompression is bounded
// by the limits, so a bomb signed by a trusted key costs at most their
// worth of CPU and no memory or disk; one that does not verify costs none.
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
	lim := opts.Limits
	if lim == (store.Limits{}) {
		lim = store.DefaultLimits
	}

	// Verify first: the bytes as given are hashed for the signature (and,
	// for a plain tar, for the image ID), the manifest's name is read from
	// the start of the image, and the signature is verified; only then is
	// the image decompressed and its tar checked. A download is kept,
	// compressed as it came, in a temp file for the second pass; a file is
	// read again.
	img, ok := body.(*os.File)
	var keep io.Writer
	if isURL || !ok {
		tmp, err := os.CreateTemp("", "rkt-check-*")
		if err != nil {
			return fmt.Errorf("keeping the download: %w", err)
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		img, keep = tmp, tmp
	}
	src := source{ref: ref, label: "Checking ACI", body: body, size: size}
	in, done := progressReader(opts.Progress, src)
	br := bufio.NewReaderSize(&cappedReader{r: in, left: lim.MaxImageSize, max: lim.MaxImageSize}, 64<<10)
	head, err := br.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) {
		done()
		return fmt.Errorf("reading: %w", err)
	}
	fm := detect(head)
	sigHash := sig.NewHash()
	hashes := []io.Writer{sigHash}
	var rawID hash.Hash
	if fm == formatTar {
		rawID = sha512.New()
		hashes = append(hashes, rawID)
	}
	if keep != nil {
		hashes = append(hashes, keep)
	}
	_, err = io.Copy(io.MultiWriter(hashes...), br)
	done()
	if err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	if rawID != nil {
		verdict.ImageID = imageID(rawID)
	}
	if _, err := img.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("reading again: %w", err)
	}
	name, err := manifestName(img, fm)
	if err != nil {
		return fmt.Errorf("verifying signature: %w", err)
	}
	verdict.Name = name
	if err := verifyInto(verdict, opts.Keystore, name, sig, sigHash); err != nil {
		return err
	}

	// Verified: now decompress, bounded by the limits, and check the tar.
	if _, err := img.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("reading again: %w", err)
	}
	idHash := sha512.New()
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
	if _, err := pump(ctx, img, func(format) hash.Hash { return nil }, consume); err != nil {
		return err
	}
	verdict.ImageID = imageID(idHash)
	if result.Manifest == nil {
		return errors.New("checking the tar: no manifest")
	}
	var m schema.ImageManifest
	if err := acimanifest.UnmarshalImage(result.Manifest, &m); err != nil {
		return fmt.Errorf("reading the manifest: %w", err)
	}
	if m.Name.String() != name {
		return fmt.Errorf("checking the tar: the manifest names %q, but the signature was checked for %q", m.Name.String(), name)
	}
	for _, l := range m.Labels {
		verdict.Labels[l.Name.String()] = l.Value
	}
	return nil
}

// imageID is the image ID of an ACI from the sha512 of its tar.
func imageID(h hash.Hash) string {
	return "sha512-" + hex.EncodeToString(h.Sum(nil))[:64]
}

// verifyInto verifies sig over signed for name with ks, and records the
// signer (or, on a refusal, what is known of it) in verdict.
func verifyInto(verdict *v1.SignatureVerdict, ks verifier, name string, sig *trust.Signature, signed hash.Hash) error {
	v, err := ks.Verify(name, sig, signed, time.Now())
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
