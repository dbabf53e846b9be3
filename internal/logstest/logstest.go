// Package logstest reads the api-service's GetLogs streams for tests, as
// a client of rkt 1.30's v1alpha API would: a whole stream, or a followed
// one up to an expected line.
package logstest

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/rkt/rkt/api/v1alpha"
)

// All is every line one GetLogs stream sends until it ends.
func All(ctx context.Context, c v1alpha.PublicAPIClient, req *v1alpha.GetLogsRequest) ([]string, error) {
	stream, err := c.GetLogs(ctx, req)
	if err != nil {
		return nil, err
	}
	var lines []string
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return lines, nil
		}
		if err != nil {
			return lines, err
		}
		lines = append(lines, r.GetLines()...)
	}
}

// Follower is an open GetLogs stream with follow and the lines it sent
// so far.
type Follower struct {
	t      testing.TB
	stream v1alpha.PublicAPI_GetLogsClient
	cancel context.CancelFunc
	Lines  []string
}

// Follow opens a GetLogs stream (req with follow); failing fails t.
func Follow(t testing.TB, ctx context.Context, c v1alpha.PublicAPIClient, req *v1alpha.GetLogsRequest) *Follower {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	req.Follow = true
	stream, err := c.GetLogs(ctx, req)
	if err != nil {
		t.Fatalf("GetLogs with follow: %v", err)
	}
	return &Follower{t: t, stream: stream, cancel: cancel}
}

// Until receives until line has come; an error before fails the test.
func (f *Follower) Until(line string) {
	f.t.Helper()
	for !slices.Contains(f.Lines, line) {
		r, err := f.stream.Recv()
		if err != nil {
			f.t.Fatalf("GetLogs with follow, waiting for %q after %q: %v", line, f.Lines, err)
		}
		f.Lines = append(f.Lines, r.GetLines()...)
	}
}

// Cancel cancels the stream as a client does and checks that it ends so
// (Canceled).
func (f *Follower) Cancel() {
	f.t.Helper()
	f.cancel()
	if _, err := f.stream.Recv(); status.Code(err) != codes.Canceled {
		f.t.Errorf("GetLogs with follow after the client cancelled: %v, want Canceled", err)
	}
}
