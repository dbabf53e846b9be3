package tarsafe

import (
	"os"
)

// SparseWriter writes a file sequentially, leaving holes where whole
// aligned blocks of zeros would be written (see holeBlock). The store uses
// it for image blobs and spools, which for a decompression bomb are mostly
// zeros. Close must be called to flush and give the file its length; it
// does not close the file.
type SparseWriter struct {
	f   *os.File
	buf []byte
	n   int   // bytes in buf
	off int64 // file offset of buf[0]
	end int64 // end of the last write
}

// NewSparseWriter returns a SparseWriter on f, positioned at offset 0,
// buffering size bytes (rounded up to a multiple of the hole block).
func NewSparseWriter(f *os.File, size int) *SparseWriter {
	size = (size + holeBlock - 1) / holeBlock * holeBlock
	return &SparseWriter{f: f, buf: make([]byte, size)}
}

// Write buffers p, writing full buffers out.
func (w *SparseWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		c := copy(w.buf[w.n:], p)
		w.n += c
		p = p[c:]
		if w.n == len(w.buf) {
			if err := w.flush(); err != nil {
				return total - len(p), err
			}
		}
	}
	return total, nil
}

func (w *SparseWriter) flush() error {
	if w.n == 0 {
		return nil
	}
	e, err := writeSparse(w.f, w.buf[:w.n], w.off)
	if err != nil {
		return err
	}
	if e > 0 {
		w.end = e
	}
	w.off += int64(w.n)
	w.n = 0
	return nil
}

// Close writes what is buffered and, when the file ends in a hole,
// truncates it to its length.
func (w *SparseWriter) Close() error {
	if err := w.flush(); err != nil {
		return err
	}
	if w.end < w.off {
		return w.f.Truncate(w.off)
	}
	return nil
}

// Size is the number of bytes written so far.
func (w *SparseWriter) Size() int64 { return w.off + int64(w.n) }
