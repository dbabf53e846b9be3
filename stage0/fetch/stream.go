package fetch

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"crypto"
	"crypto/sha512"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"

	"github.com/appc/spec/schema"

	"github.com/rkt/rkt/common/acimanifest"
	"github.com/rkt/rkt/common/tarsafe"
	"github.com/rkt/rkt/stage0/trust"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"golang.org/x/sync/errgroup"
)

// format is the compression of an image as downloaded.
type format int

const (
	formatTar format = iota
	formatGzip
	formatBzip2
	formatXz
	formatZstd
)

func (f format) String() string {
	return [...]string{"tar", "gzip", "bzip2", "xz", "zstd"}[f]
}

var magics = []struct {
	magic []byte
	f     format
}{
	{[]byte{0x1f, 0x8b}, formatGzip},
	{[]byte("BZh"), formatBzip2},
	{[]byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, formatXz},
	{[]byte{0x28, 0xb5, 0x2f, 0xfd}, formatZstd},
}

// detect names the compression by its magic number; anything else is taken
// as a plain tar (the tar checks refuse what is not one).
func detect(head []byte) format {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.f
		}
	}
	return formatTar
}

// maxZstdWindow bounds the memory a zstd stream may ask the decoder for.
const maxZstdWindow = 256 << 20

func decompressor(f format, r io.Reader) (io.ReadCloser, error) {
	switch f {
	case formatGzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		return zr, nil
	case formatBzip2:
		return io.NopCloser(bzip2.NewReader(r)), nil
	case formatXz:
		xr, err := xz.NewReader(r)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(xr), nil
	case formatZstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	default:
		return io.NopCloser(r), nil
	}
}

// plan decides, once the format is known, whether the downloaded bytes must
// be fed to the signature hash as they pass. It returns the hash to feed, or
// nil when the consumer will hand over an equivalent state at the end (a
// plain tar signed with SHA-512: the signed bytes are the image ID's bytes).
type plan func(f format) hash.Hash

// consumer reads the whole uncompressed tar stream.
type consumer func(r io.Reader) error

const copyBuf = 256 << 10

// pump runs the one pass over an image: body -> (signature hash) ->
// decompress -> consume. Reading and signature hashing run in one goroutine,
// decompression and the consumer (tar checks, image-ID hash, extraction) in
// another, joined by a pipe, so the two halves use two cores. Nothing is
// held in memory beyond the copy buffers.
func pump(ctx context.Context, body io.Reader, choose plan, consume consumer) (format, error) {
	br := bufio.NewReaderSize(body, 64<<10)
	head, err := br.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("reading: %w", err)
	}
	f := detect(head)
	sigHash := choose(f)

	pr, pw := io.Pipe()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := produce(gctx, br, sigHash, pw)
		pw.CloseWithError(err)
		return err
	})
	g.Go(func() error {
		err := func() error {
			dec, err := decompressor(f, pr)
			if err != nil {
				return fmt.Errorf("decompressing %s: %w", f, err)
			}
			defer dec.Close()
			if err := consume(dec); err != nil {
				return err
			}
			// The consumer may stop at the end-of-archive marker: read the
			// rest so compressed checksums are verified.
			if _, err := io.Copy(io.Discard, dec); err != nil {
				return fmt.Errorf("decompressing %s: %w", f, err)
			}
			return nil
		}()
		if err != nil {
			pr.CloseWithError(errConsumerStopped)
		} else {
			pr.Close()
		}
		return err
	})
	if err := g.Wait(); err != nil {
		return f, err
	}
	return f, nil
}

// errConsumerStopped tells the producer its reader went away; the
// consumer's own error is the one reported.
var errConsumerStopped = errors.New("consumer stopped")

// produce copies body into w, feeding sigHash (when not nil) with exactly
// the bytes read. A write error means the consumer stopped: the consumer
// reports why, so produce returns nil for it.
func produce(ctx context.Context, body io.Reader, sigHash hash.Hash, w io.Writer) error {
	buf := make([]byte, copyBuf)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := body.Read(buf)
		if n > 0 {
			if sigHash != nil {
				sigHash.Write(buf[:n])
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("reading: %w", rerr)
		}
	}
}

// spooled is what the pass before verification learnt of an image.
type spooled struct {
	format  format
	sigHash hash.Hash        // over the bytes as fetched; nil without a signature
	idHash  hash.Hash        // plain tars: the sha512 state over all of it (the image ID's)
	digests []tarsafe.Digest // plain tars: the files' digests (nil when the tar is refused)
}

// spool copies body into sp, feeding the signature hash (when sig is not
// nil) with exactly the bytes read. For a plain tar it also computes the
// sha512 state over the bytes, the image ID's hash (once with the
// signature's when that is a SHA-512 one: the signed bytes are the image
// ID's bytes then), and, in a third goroutine, the digests of its files
// (tarsafe.Prehash under lim, in memory), which spares the extraction
// after verification from hashing them. A compressed image is not
// decompressed here.
func spool(ctx context.Context, body io.Reader, sp io.Writer, sig *trust.Signature, lim tarsafe.Limits) (*spooled, error) {
	br := bufio.NewReaderSize(body, 64<<10)
	head, err := br.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading: %w", err)
	}
	out := &spooled{format: detect(head)}
	var hashes []io.Writer
	shared := false
	if sig != nil {
		out.sigHash = sig.NewHash()
		hashes = append(hashes, out.sigHash)
		shared = out.format == formatTar && sig.Hash() == crypto.SHA512 && isFreshSHA512(out.sigHash)
	}
	if out.format == formatTar && !shared {
		out.idHash = sha512.New()
		hashes = append(hashes, out.idHash)
	}
	var tee io.Writer
	var pw *io.PipeWriter
	prehashed := make(chan struct{})
	if out.format == formatTar {
		var pr *io.PipeReader
		pr, pw = io.Pipe()
		tee = pw
		go func() {
			defer close(prehashed)
			d, err := tarsafe.Prehash(bufio.NewReaderSize(pr, copyBuf), lim)
			if err == nil {
				out.digests = d
			}
			// A refused tar is refused again, after verification, by
			// the extraction: here, just keep the copy going.
			io.Copy(io.Discard, pr)
		}()
	} else {
		close(prehashed)
	}
	err = copyHashing(ctx, sp, br, hashes, tee)
	if pw != nil {
		pw.CloseWithError(err)
	}
	<-prehashed
	if err != nil {
		return nil, err
	}
	if shared {
		// Verify consumes the signature hash: give the image ID a copy.
		state, err := out.sigHash.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("copying the image hash: %w", err)
		}
		out.idHash = sha512.New()
		if err := out.idHash.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
			return nil, fmt.Errorf("copying the image hash: %w", err)
		}
	}
	return out, nil
}

// copyHashing copies r to w (and tee, when not nil) and feeds every hash
// the same bytes. Hashing runs in its own goroutine, a few buffers behind
// the copy, so reading and spooling overlap with it; the whole costs about
// the slowest hash.
func copyHashing(ctx context.Context, w io.Writer, r io.Reader, hashes []io.Writer, tee io.Writer) error {
	const nbuf = 4
	free := make(chan []byte, nbuf)
	for range nbuf {
		free <- make([]byte, copyBuf)
	}
	full := make(chan []byte, nbuf)
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for b := range full {
			for _, h := range hashes {
				h.Write(b)
			}
			free <- b[:cap(b)]
		}
	}()
	err := func() error {
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			buf := <-free
			n, rerr := fill(r, buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return werr
				}
				if tee != nil {
					tee.Write(buf[:n]) // its reader drains it whatever happens
				}
				full <- buf[:n]
			}
			if rerr == io.EOF {
				return nil
			}
			if rerr != nil {
				return fmt.Errorf("reading: %w", rerr)
			}
		}
	}()
	close(full)
	<-hashed
	return err
}

// fill reads into buf until it is full, r ends (io.EOF, with what was
// read) or r fails. Unlike io.ReadFull it passes r's own errors on as they
// are: a download cut short (io.ErrUnexpectedEOF from the HTTP body) must
// not pass for the end of the image.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// maxManifestScan bounds how much of the uncompressed image manifestName
// reads looking for the manifest.
const maxManifestScan = 1 << 30

// manifestName reads the image's manifest from r, an image of format f,
// and returns its name. It writes nothing and holds only the manifest in
// memory; it reads at most maxManifestScan uncompressed bytes, so the
// manifest must come early in the tar (actool and rkt's own images put it
// first).
func manifestName(r io.Reader, f format) (string, error) {
	dec, err := decompressor(f, bufio.NewReaderSize(r, 64<<10))
	if err != nil {
		return "", fmt.Errorf("reading the manifest: decompressing %s: %w", f, err)
	}
	defer dec.Close()
	lr := &io.LimitedReader{R: dec, N: maxManifestScan}
	tr := tar.NewReader(lr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return "", fmt.Errorf("reading the manifest: %w", ErrNoManifest)
		}
		if err != nil {
			if lr.N <= 0 {
				return "", fmt.Errorf("reading the manifest: %w in the first %d bytes of the image (signatures are checked before extraction, from a manifest near the start of the tar)", ErrNoManifest, int64(maxManifestScan))
			}
			return "", fmt.Errorf("reading the manifest: reading tar: %w", err)
		}
		if path.Clean(h.Name) != tarsafe.ManifestName {
			continue
		}
		if h.Typeflag != tar.TypeReg || h.Size > tarsafe.MaxManifestSize {
			return "", fmt.Errorf("reading the manifest: %w", &tarsafe.EntryError{Name: h.Name, Reason: "manifest is not a regular file of at most 16 MiB"})
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return "", fmt.Errorf("reading the manifest: %w", err)
		}
		var m schema.ImageManifest
		if err := acimanifest.UnmarshalImage(data, &m); err != nil {
			return "", fmt.Errorf("reading the manifest: %w", err)
		}
		return m.Name.String(), nil
	}
}

// decompressInto decompresses r, an image of format f, into w (the
// store's ingest, which checks and bounds it).
func decompressInto(w io.Writer, r io.Reader, f format) error {
	dec, err := decompressor(f, bufio.NewReaderSize(r, copyBuf))
	if err != nil {
		return fmt.Errorf("decompressing %s: %w", f, err)
	}
	defer dec.Close()
	buf := make([]byte, copyBuf)
	for {
		n, rerr := io.ReadFull(dec, buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return fmt.Errorf("storing: %w", werr)
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("decompressing %s: %w", f, rerr)
		}
	}
}
