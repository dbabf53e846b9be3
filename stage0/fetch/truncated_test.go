package fetch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// A body that ends early (io.ErrUnexpectedEOF, as net/http reports a
// response shorter than its Content-Length) is a failed download, not the
// end of the image.
func TestCopyHashingRefusesTruncatedBody(t *testing.T) {
	body := io.MultiReader(bytes.NewReader(make([]byte, 3*copyBuf/2)), iotest.ErrReader(io.ErrUnexpectedEOF))
	var out bytes.Buffer
	err := copyHashing(context.Background(), &out, body, nil, nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
	}
	// A body that ends cleanly mid-buffer is whole.
	out.Reset()
	if err := copyHashing(context.Background(), &out, bytes.NewReader(make([]byte, copyBuf/3)), nil, nil); err != nil || out.Len() != copyBuf/3 {
		t.Fatalf("clean end: %v, %d bytes", err, out.Len())
	}
}
