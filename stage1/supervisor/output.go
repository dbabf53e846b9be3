package main

import (
	"bufio"
	"errors"
	"io"
	"sync"
)

// lockedWriter serialises whole writes to one destination, so that lines
// from several apps never interleave inside a line.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// maxLine is the longest piece copyPrefixed writes at once; a longer line
// is written in pieces, the prefix before the first only.
const maxLine = 64 << 10

// copyPrefixed copies src to dst line by line, starting every line with
// prefix (rkt's "app[pid]: "). Each line is one Write. A last line without
// a newline gets one when there is a prefix; without one (a pod of one
// app) the bytes pass unchanged. It returns when src reaches EOF or fails; a failing
// dst does not stop the draining of src, so that the app never blocks on a
// full pipe. A non-nil line is also given every piece, without the prefix;
// its failures are line's own business.
func copyPrefixed(dst io.Writer, src io.Reader, prefix string, line func([]byte)) error {
	br := bufio.NewReaderSize(src, maxLine)
	buf := make([]byte, 0, maxLine+len(prefix)+1)
	atLineStart := true
	var werr error
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			buf = buf[:0]
			if atLineStart {
				buf = append(buf, prefix...)
			}
			buf = append(buf, chunk...)
			atLineStart = chunk[len(chunk)-1] == '\n'
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) && !atLineStart && prefix != "" {
				buf = append(buf, '\n') // EOF in the middle of a line
				atLineStart = true
			}
			if werr == nil {
				_, werr = dst.Write(buf)
			}
			if line != nil {
				line(chunk)
			}
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return werr
		default:
			return err
		}
	}
}
