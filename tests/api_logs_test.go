package tests

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/rkt/rkt/api/v1alpha"
	"github.com/rkt/rkt/internal/logstest"
)

// TestAPIServiceGetLogsFiles: on a host without journald the supervisor
// keeps each app's output in the pod's log files, and GetLogs sends it:
// every line, the last N, and with follow a line the app prints (on
// stderr) after the stream opened. The console still shows the lines.
func TestAPIServiceGetLogsFiles(t *testing.T) {
	if _, err := os.Stat("/run/systemd/journal/socket"); err == nil {
		t.Skip("skipping: journald runs here, so pods log to the journal (the systemd suite tests that)")
	}
	pe := newPodEnv(t)
	img := pe.shImage("talker", "echo line 1; echo line 2; echo line 3; while [ ! -e /go ]; do sleep 0.1; done; echo late line >&2; sleep 3600")
	uuid, wait := pe.startPod(img)
	defer func() {
		pe.ok("stop", uuid)
		_, out := wait()
		if !strings.Contains(out, "line 3") {
			t.Errorf("the console lacks the app's output:\n%s", out)
		}
	}()
	api := startAPIService(t, pe.env)
	c := api.client

	all := []string{"line 1", "line 2", "line 3"}
	// Until the app has printed (the log directory comes with the
	// supervisor: FailedPrecondition before).
	var got []string
	var err error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got, err = logstest.All(ctxT(t), c, &v1alpha.GetLogsRequest{PodId: uuid}); err == nil && len(got) >= 3 {
			break
		}
	}
	if err != nil || !reflect.DeepEqual(got, all) {
		t.Fatalf("GetLogs: %q, %v; want %q", got, err, all)
	}
	if got, err := logstest.All(ctxT(t), c, &v1alpha.GetLogsRequest{PodId: uuid, AppName: "talker", Lines: 2}); err != nil || !reflect.DeepEqual(got, all[1:]) {
		t.Errorf("GetLogs lines=2: %q, %v; want %q", got, err, all[1:])
	}
	if _, err := logstest.All(ctxT(t), c, &v1alpha.GetLogsRequest{PodId: uuid, AppName: "nosuchapp"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetLogs of an app the pod lacks: %v, want NotFound", err)
	}

	follow := logstest.Follow(t, ctxT(t), c, &v1alpha.GetLogsRequest{PodId: uuid, Lines: 1})
	follow.Until("line 3")
	pe.ok("enter", uuid, "/bin/touch", "/go")
	follow.Until("late line")
	if want := []string{"line 3", "late line"}; !reflect.DeepEqual(follow.Lines, want) {
		t.Errorf("GetLogs with follow and lines=1 sent %q, want %q", follow.Lines, want)
	}
	follow.Cancel()
}
