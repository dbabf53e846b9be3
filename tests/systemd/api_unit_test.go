package systemd

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/rkt/rkt/api/v1alpha"
	"github.com/rkt/rkt/internal/logstest"
)

// TestAPIServiceUnits starts the API service as make install ships it: a
// connection to rkt-api-tcp.socket (rkt 1.30's 127.0.0.1:15441) starts
// rkt-api.service, which runs without root and without capabilities, and
// still lists a running pod and its image, and reads the pod's output from
// the journal (GetLogs) through its groups.
func TestAPIServiceUnits(t *testing.T) {
	needHost(t)
	_, uuid := startTalker(t, "listed")

	startSocket(t, "rkt-api-tcp.socket", "rkt-api.service")
	client := dialAPI(t, "127.0.0.1:15441", func() string {
		return fmt.Sprint(show("rkt-api.service", "ActiveState", "Result"), "\n", journal("rkt-api.service"))
	})
	checkActivatedUnprivileged(t, "rkt-api.service")

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	pods, err := client.ListPods(ctx, &v1alpha.ListPodsRequest{})
	if err != nil {
		t.Fatalf("ListPods: %v\n%s", err, journal("rkt-api.service"))
	}
	var found *v1alpha.Pod
	for _, pod := range pods.Pods {
		if pod.Id == uuid {
			found = pod
		}
	}
	if found == nil || found.State != v1alpha.PodState_POD_STATE_RUNNING || len(found.Apps) != 1 || found.Apps[0].Name != "listed" {
		t.Errorf("ListPods: the pod %s is %v, want it running with its app listed (all: %v)", uuid, found, pods.Pods)
	}
	images, err := client.ListImages(ctx, &v1alpha.ListImagesRequest{Filters: []*v1alpha.ImageFilter{{FullNames: []string{prefix + "/listed"}}}})
	if err != nil || len(images.Images) != 1 {
		t.Errorf("ListImages of %s/listed: %v, %v; want the image", prefix, images, err)
	}
	got, err := logstest.All(ctx, client, &v1alpha.GetLogsRequest{PodId: uuid})
	if want := []string{"app: line 1", "app: line 2", "app: line 3"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("GetLogs through rkt-api.service: %q, %v; want %q\n%s", got, err, want, journal("rkt-api.service"))
	}
}

// startSocket starts a socket unit as make install ships it (stopped
// with its service after the test) and checks that its service waits for
// the first connection.
func startSocket(t *testing.T, socket, service string) {
	t.Helper()
	t.Cleanup(func() {
		output("systemctl", "stop", socket, service)
		output("systemctl", "reset-failed", socket, service)
	})
	run(t, "systemctl", "start", socket)
	if p := show(service, "ActiveState"); p["ActiveState"] != "inactive" {
		t.Errorf("%s before the first connection to %s: %v, want inactive", service, socket, p)
	}
}

// checkActivatedUnprivileged checks that service, started by its socket,
// runs, as a user of its own (not root) and with no capability.
func checkActivatedUnprivileged(t *testing.T, service string) {
	t.Helper()
	p := show(service, "ActiveState", "MainPID")
	if p["ActiveState"] != "active" {
		t.Fatalf("%s after a connection: %v, want active\n%s", service, p, journal(service))
	}
	st, err := os.ReadFile("/proc/" + p["MainPID"] + "/status")
	if err != nil {
		t.Fatalf("reading the status of %s's process: %v", service, err)
	}
	for _, l := range strings.Split(string(st), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) > 1 && f[0] == "Uid:" && f[1] == "0":
			t.Errorf("%s runs as root:\n%s", service, st)
		case len(f) > 1 && (f[0] == "CapEff:" || f[0] == "CapPrm:") && strings.Trim(f[1], "0") != "":
			t.Errorf("%s has capabilities (%s):\n%s", service, l, st)
		}
	}
}
