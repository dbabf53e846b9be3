package fetch

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"

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
