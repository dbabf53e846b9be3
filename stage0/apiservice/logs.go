package apiservice

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/rkt/rkt/api/v1alpha"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage0/pod"
)

// maxLinesPerResponse bounds one GetLogsResponse: lines that are already
// read go out together, up to this many.
const maxLinesPerResponse = 256

// GetLogs streams the output of a pod's apps (or of one app). A pod whose
// supervisor sends the output to the journal (podlayout.InPodJournalMarker)
// is read with journalctl, by the fields the supervisor sets; otherwise
// from the apps' log files (podlayout.InPodLogDir). With follow the stream
// stays open, as journalctl --follow does, until the client cancels or
// the service stops.
func (s *Service) GetLogs(req *v1alpha.GetLogsRequest, stream v1alpha.PublicAPI_GetLogsServer) error {
	p, err := pod.Get(s.flags.DataDir, req.GetPodId())
	if err != nil {
		return podError(err)
	}
	apps, err := podApps(p, req.GetAppName())
	if err != nil {
		return err
	}
	if req.GetLines() < 0 {
		return status.Errorf(codes.InvalidArgument, "lines is %d: want 0 (all) or more", req.GetLines())
	}
	journal, err := exists(podlayout.JournalMarkerPath(p.Path))
	if err != nil {
		return errStatus(err, "reading where pod "+p.UUID+" logs")
	}
	files := false
	if !journal {
		if files, err = exists(filepath.Join(podlayout.Stage1Rootfs(p.Path), podlayout.InPodLogDir)); err != nil {
			return errStatus(err, "reading where pod "+p.UUID+" logs")
		}
		if !files {
			return status.Errorf(codes.FailedPrecondition, "pod %s keeps no logs: it has not run, or it is interactive (its terminal was its only output)", p.UUID)
		}
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	if s.stopping != nil {
		go func() {
			select {
			case <-s.stopping:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	if journal {
		err = journalLogs(ctx, p.UUID, req, stream.Send)
	} else {
		err = fileLogs(ctx, p.Path, apps, req, stream.Send)
	}
	if stream.Context().Err() == nil && ctx.Err() != nil {
		return status.Error(codes.Unavailable, "the api-service is stopping")
	}
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	return err
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// podApps is the names of p's apps, or app alone; NotFound when p has no
// such app.
func podApps(p *pod.Pod, app string) ([]string, error) {
	pm, _, err := p.Manifest()
	if err != nil {
		if errors.Is(err, pod.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			if app == "" {
				return nil, nil
			}
			return nil, status.Errorf(codes.NotFound, "pod %s has no app %q (it has no manifest yet)", p.UUID, app)
		}
		return nil, errStatus(err, "reading the manifest of pod "+p.UUID)
	}
	var names []string
	for _, ra := range pm.Apps {
		if app == "" || ra.Name.String() == app {
			names = append(names, ra.Name.String())
		}
	}
	if app != "" && len(names) == 0 {
		return nil, status.Errorf(codes.NotFound, "pod %s has no app %q", p.UUID, app)
	}
	return names, nil
}

// journalArgs are journalctl's arguments for req on pod uuid.
func journalArgs(uuid string, req *v1alpha.GetLogsRequest) []string {
	args := []string{"--output=json", "--no-pager", "--quiet", "RKT_POD_UUID=" + uuid}
	if app := req.GetAppName(); app != "" {
		args = append(args, "RKT_APP="+app)
	}
	if n := req.GetLines(); n > 0 {
		args = append(args, "--lines="+strconv.Itoa(int(n)))
	}
	if t := req.GetSinceTime(); t != 0 {
		args = append(args, "--since=@"+strconv.FormatInt(t, 10))
	}
	if t := req.GetUntilTime(); t != 0 {
		// The whole second included, as for the log files.
		args = append(args, "--until=@"+strconv.FormatInt(t, 10)+".999999")
	}
	if req.GetFollow() {
		args = append(args, "--follow")
	}
	return args
}

// journalLogs runs journalctl for req and sends the MESSAGE of every entry
// it prints, batching the lines already read. It ends when journalctl
// does (at once without follow) or ctx ends.
func journalLogs(ctx context.Context, uuid string, req *v1alpha.GetLogsRequest, send func(*v1alpha.GetLogsResponse) error) error {
	bin, err := exec.LookPath("journalctl")
	if err != nil {
		return status.Errorf(codes.FailedPrecondition, "pod %s logs to the journal, but journalctl is not installed: %v", uuid, err)
	}
	cmd := exec.CommandContext(ctx, bin, journalArgs(uuid, req)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return errStatus(err, "running journalctl")
	}
	if err := cmd.Start(); err != nil {
		return errStatus(err, "running journalctl")
	}
	sendErr := sendEntries(out, send)
	if sendErr != nil {
		cmd.Process.Kill()
	}
	waitErr := cmd.Wait()
	switch {
	case sendErr != nil:
		return sendErr
	case ctx.Err() != nil:
		// The client went away, or the service stops: nothing to say.
		return status.FromContextError(ctx.Err()).Err()
	case waitErr != nil:
		return status.Errorf(codes.Internal, "reading the journal of pod %s: journalctl: %v: %s", uuid, waitErr, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// sendEntries reads journal entries, one JSON object a line, and sends
// their messages; an entry that is not JSON fails the stream.
func sendEntries(r io.Reader, send func(*v1alpha.GetLogsResponse) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := send(&v1alpha.GetLogsResponse{Lines: batch})
		batch = nil
		return err
	}
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			msg, ok, perr := entryMessage(line)
			if perr != nil {
				return status.Errorf(codes.Internal, "reading the journal: %v", perr)
			}
			if ok {
				batch = append(batch, msg)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return flush()
			}
			return status.Errorf(codes.Internal, "reading the journal: %v", err)
		}
		// Send what is read before waiting for more (a followed
		// journal may print nothing for a long time).
		if br.Buffered() == 0 || len(batch) >= maxLinesPerResponse {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// entryMessage is the MESSAGE of one entry of journalctl --output=json:
// a string, or an array of bytes when it is not valid text; an entry
// without one (or with null, a field too big to show) has none.
func entryMessage(line []byte) (string, bool, error) {
	var e struct {
		Message json.RawMessage `json:"MESSAGE"`
	}
	if err := json.Unmarshal(line, &e); err != nil {
		return "", false, fmt.Errorf("an entry that is not JSON: %w", err)
	}
	if len(e.Message) == 0 || string(e.Message) == "null" {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(e.Message, &s); err == nil {
		return s, true, nil
	}
	var b []byte // a JSON array of numbers, not base64: decode by hand
	var nums []int
	if err := json.Unmarshal(e.Message, &nums); err != nil {
		return "", false, fmt.Errorf("MESSAGE is neither text nor bytes: %s", e.Message)
	}
	for _, n := range nums {
		if n < 0 || n > 255 {
			return "", false, fmt.Errorf("MESSAGE holds %d, not a byte", n)
		}
		b = append(b, byte(n))
	}
	return strings.TrimSuffix(string(b), "\n"), true, nil
}
