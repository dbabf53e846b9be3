package transport

import (
	"context"
	"errors"
	"io"
	"net/http"
)

// ErrTooLarge: a resource Get reads whole is larger than its limit.
var ErrTooLarge = errors.New("response larger than its limit")

// StatusError is a response Get refuses: any status but 200 OK.
type StatusError struct {
	Code   int    // 404
	Status string // "404 Not Found"
}

func (e *StatusError) Error() string { return "unexpected HTTP status " + e.Status }

// ReadError is a failure while reading the body of an accepted response
// (the request itself succeeded); it reads as the error it wraps.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// Get reads a small resource (a signature, a key) whole through c, which
// carries the TLS, plain-http and auth policy. It refuses any status but
// 200 (*StatusError) and more than limit bytes (ErrTooLarge, unwrapped, so
// that callers name the resource). Errors of the request are returned as
// the client gives them; errors reading the body are *ReadError.
func Get(ctx context.Context, c *http.Client, url string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Code: resp.StatusCode, Status: resp.Status}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, &ReadError{Err: err}
	}
	if int64(len(data)) > limit {
		return nil, ErrTooLarge
	}
	return data, nil
}
