package systemd

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/rkt/rkt/api/v1alpha"
	"github.com/rkt/rkt/internal/logstest"
)

// TestAPIServiceGetLogs runs a pod from rkt-pod@.service, whose supervisor
// sends the app's output to the journal, and reads it back through the
// api-service's GetLogs: every line, the last N, one app's, and, with
// follow, a line the app prints after the stream opened.
func TestAPIServiceGetLogs(t *testing.T) {
	needHost(t)
	unit, uuid := startTalker(t, "talker")

	client := startAPIService(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	all := []string{"app: line 1", "app: line 2", "app: line 3"}
	for _, c := range []struct {
		name string
		req  *v1alpha.GetLogsRequest
		want []string
	}{
		{"every line", &v1alpha.GetLogsRequest{PodId: uuid}, all},
		{"lines=2", &v1alpha.GetLogsRequest{PodId: uuid, Lines: 2}, all[1:]},
		{"app talker", &v1alpha.GetLogsRequest{PodId: uuid, AppName: "talker"}, all},
		{"until the epoch", &v1alpha.GetLogsRequest{PodId: uuid, UntilTime: 1}, nil},
		{"since the epoch until now", &v1alpha.GetLogsRequest{PodId: uuid, SinceTime: 1, UntilTime: time.Now().Unix()}, all},
	} {
		got, err := logstest.All(ctx, client, c.req)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("GetLogs %s: %q, %v; want %q\njournal:\n%s", c.name, got, err, c.want, journal(unit))
		}
	}
	for _, req := range []*v1alpha.GetLogsRequest{
		{PodId: uuid, AppName: "nosuchapp"},
		{PodId: "f0000000-0000-4000-8000-000000000000"},
	} {
		if _, err := logstest.All(ctx, client, req); grpcstatus.Code(err) != codes.NotFound {
			t.Errorf("GetLogs %v: %v, want NotFound", req, err)
		}
	}

	// Follow: the last line first, then what the app prints later.
	follow := logstest.Follow(t, ctx, client, &v1alpha.GetLogsRequest{PodId: uuid, Lines: 1})
	follow.Until("app: line 3")
	run(t, rktBinary, "enter", "--app=talker", uuid, appPath, "touch", "/go")
	follow.Until("app: late line")
	if want := []string{"app: line 3", "app: late line"}; !reflect.DeepEqual(follow.Lines, want) {
		t.Errorf("GetLogs with follow and lines=1 sent %q, want %q", follow.Lines, want)
	}
	follow.Cancel()
}

// startTalker runs, from rkt-pod@.service, a pod of the image
// example.com/systemd-tests/<app> whose app prints "app: line 1" to "app:
// line 3" and waits (appMain's talk), and returns the unit and the pod's
// UUID once the lines are in the journal.
func startTalker(t *testing.T, app string) (unit, uuid string) {
	t.Helper()
	img := signedImage(t, app, []string{"talk"}, nil)
	unit, uuidFile := podUnit(t, img)
	run(t, "systemctl", "start", unit)
	uuid = readUUID(t, uuidFile, unit)
	waitFor(t, "the app's lines in the journal", func() bool {
		return strings.Contains(journal(unit), "app: line 3")
	}, func() string { return journal(unit) })
	return unit, uuid
}

// startAPIService runs `rkt api-service` on a free local port until the
// test ends, and returns a client once it answers.
func startAPIService(t *testing.T) v1alpha.PublicAPIClient {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var stderr strings.Builder
	cmd := exec.Command(rktBinary, "api-service", "--listen="+addr)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting rkt api-service: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return dialAPI(t, addr, func() string { return fmt.Sprint("stderr: ", stderr.String()) })
}

// dialAPI returns a client of the API service at addr once it answers
// GetInfo; describe says what went wrong when it never does.
func dialAPI(t *testing.T, addr string, describe func() string) v1alpha.PublicAPIClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := v1alpha.NewPublicAPIClient(conn)
	waitFor(t, "the API service at "+addr+" to answer", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := client.GetInfo(ctx, &v1alpha.GetInfoRequest{})
		return err == nil
	}, describe)
	return client
}
