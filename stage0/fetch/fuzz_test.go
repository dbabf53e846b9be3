package fetch

import (
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"crypto/sha512"
	"errors"
	"hash"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rkt/rkt/common/tarsafe"
)

// maxFuzzOutput bounds what one fuzz input may decompress to, so that a
// small bomb costs the fuzzer time, not memory.
const maxFuzzOutput = 64 << 20

// FuzzDecompress feeds arbitrary bytes, as downloaded, to the format
// detection, the decompressors and the one-pass pump that Fetch and Check
// run. The seeds are one image compressed by the gzip, bzip2, xz and zstd
// tools (testdata/). Properties:
//   - detect names the format whose magic number starts the data, and
//     only then;
//   - no decompressor panics or reads more than it is given; a plain tar
//     passes through unchanged;
//   - gzip output agrees with the standard library's decoder wherever
//     both accept the stream;
//   - pump returns (no deadlock between its two goroutines, whichever
//     side fails), reports the format detect chose, and on success has fed
//     the signature hash exactly the bytes given, once.
func FuzzDecompress(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "image*"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed images in testdata (%v)", err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, m := range magics {
		f.Add(m.magic)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		head := data[:min(len(data), 6)]
		fm := detect(head)
		for _, m := range magics {
			if bytes.HasPrefix(head, m.magic) != (fm == m.f) {
				t.Fatalf("detect(%x) = %v", head, fm)
			}
		}

		out, complete, derr := decompressAll(fm, data)
		if fm == formatTar && (derr != nil || !bytes.Equal(out, data)) {
			t.Fatalf("a plain tar did not pass through unchanged (%v)", derr)
		}
		if fm == formatGzip && complete {
			std, serr := stdGunzip(data)
			if derr == nil && serr == nil && !bytes.Equal(out, std) {
				t.Fatalf("gzip: %d bytes, the standard library's decoder gives %d", len(out), len(std))
			}
		}
		if !complete {
			return // pump reads to the end: only bounded streams go further
		}

		var sigHash hash.Hash
		choose := func(got format) hash.Hash {
			if got != fm {
				t.Errorf("pump chose %v, detect %v", got, fm)
			}
			sigHash = sha512.New()
			return sigHash
		}
		consume := func(r io.Reader) error {
			_, err := tarsafe.Check(r, tarsafe.Limits{MaxSize: maxFuzzOutput})
			return err
		}
		got, err := pump(context.Background(), bytes.NewReader(data), choose, consume)
		if got != fm {
			t.Fatalf("pump reported %v, detect %v", got, fm)
		}
		if err != nil {
			if errors.Is(err, errConsumerStopped) {
				t.Fatalf("pump reported the producer's internal error: %v", err)
			}
			return
		}
		if derr != nil {
			t.Fatalf("pump accepted a stream that does not decompress: %v", derr)
		}
		want := sha512.Sum512(data)
		if !bytes.Equal(sigHash.Sum(nil), want[:]) {
			t.Fatalf("the signature hash was not fed exactly the bytes given")
		}
	})
}

// decompressAll decompresses data as pump would, up to maxFuzzOutput
// bytes; complete is false when the output goes beyond that.
func decompressAll(fm format, data []byte) (out []byte, complete bool, err error) {
	dec, err := decompressor(fm, bytes.NewReader(data))
	if err != nil {
		return nil, true, err
	}
	defer dec.Close()
	out, err = io.ReadAll(io.LimitReader(dec, maxFuzzOutput+1))
	if len(out) > maxFuzzOutput {
		return nil, false, nil
	}
	return out, true, err
}

func stdGunzip(data []byte) ([]byte, error) {
	zr, err := stdgzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(zr, maxFuzzOutput+1))
}
