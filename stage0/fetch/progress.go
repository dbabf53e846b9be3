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
	file, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(file.Fd())) {
		return src.body, func() {}
	}
	total := src.size
	if total < 0 {
		total = 0
	}
	bar := pb.New64(total).SetTemplate(pb.Full)
	bar.Set(pb.Bytes, true)
	bar.Set("prefix", src.label+":")
	bar.SetWriter(file)
	bar.Start()
	return bar.NewProxyReader(src.body), func() { bar.Finish() }
}
