package fetch

import (
	"io"
	"os"

	"github.com/cheggaaa/pb/v3"
	"golang.org/x/term"
)

// progress wraps src's body with a progress bar when Progress is a
// terminal; done stops the bar. Elsewhere it stays quiet.
func (f *Fetcher) progress(src source) (io.Reader, func()) {
	return progressReader(f.Progress, src)
}

func progressReader(w io.Writer, src source) (io.Reader, func()) {
	bar := newBar(w, src.label, src.size)
	if bar == nil {
		return src.body, func() {}
	}
	return bar.NewProxyReader(src.body), func() { bar.Finish() }
}

// sharedProgress is one progress bar for several bodies read at once (the
// layers of an OCI image, downloaded in parallel): wrap each body with
// wrap; done stops the bar. Off a terminal wrap returns the body as is.
func (f *Fetcher) sharedProgress(label string, total int64) (wrap func(io.Reader) io.Reader, done func()) {
	bar := newBar(f.Progress, label, total)
	if bar == nil {
		return func(r io.Reader) io.Reader { return r }, func() {}
	}
	return func(r io.Reader) io.Reader { return bar.NewProxyReader(r) }, func() { bar.Finish() }
}

// newBar starts a bar of total bytes on w, or returns nil when w is not a
// terminal.
func newBar(w io.Writer, label string, total int64) *pb.ProgressBar {
	file, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(file.Fd())) {
		return nil
	}
	if total < 0 {
		total = 0
	}
	bar := pb.New64(total).SetTemplate(pb.Full)
	bar.Set(pb.Bytes, true)
	bar.Set("prefix", label+":")
	bar.SetWriter(file)
	bar.Start()
	return bar
}
