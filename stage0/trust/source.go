package trust

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/rkt/rkt/stage0/transport"
)

// ReadKeySource reads the key data that rkt trust is given: an http(s)
// URL, downloaded through client (which enforces the http and TLS
// policy), or a file path, with or without file://. Either is capped at
// MaxKeySize (ErrKeyTooLarge). The data is not parsed: see ParseKey.
func ReadKeySource(ctx context.Context, client *http.Client, src string) ([]byte, error) {
	if strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "http://") {
		data, err := transport.Get(ctx, client, src, MaxKeySize)
		var se *transport.StatusError
		var re *transport.ReadError
		switch {
		case errors.Is(err, transport.ErrTooLarge):
			return nil, fmt.Errorf("reading key: %w", ErrKeyTooLarge)
		case errors.As(err, &re):
			return nil, fmt.Errorf("reading key: %w", re.Err)
		case errors.As(err, &se):
			return nil, fmt.Errorf("downloading key: %s", se.Status)
		case err != nil:
			return nil, fmt.Errorf("downloading key: %w", err)
		}
		return data, nil
	}
	f, err := os.Open(strings.TrimPrefix(src, "file://"))
	if err != nil {
		return nil, fmt.Errorf("reading key: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxKeySize+1))
	if err != nil {
		return nil, fmt.Errorf("reading key: %w", err)
	}
	if len(data) > MaxKeySize {
		return nil, fmt.Errorf("reading key: %w", ErrKeyTooLarge)
	}
	return data, nil
}
