package tests

import (
	"bufio"
	"context"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/rkt/rkt/api/v1alpha"
)

// apiService is a running `rkt api-service` and a client of it.
type apiService struct {
	cmd    *exec.Cmd
	client v1alpha.PublicAPIClient
	done   chan error
	stderr *lockedBuffer
}

var listeningRe = regexp.MustCompile(`Listening on (127\.0\.0\.1:[0-9]+)`)

// startAPIService starts `rkt api-service --listen=127.0.0.1:0` as e's
// user and connects a gRPC client to the port it reports. The service is
// stopped (SIGTERM, must exit 0) at the end of the test.
func startAPIService(t *testing.T, e *env) *apiService {
	t.Helper()
	cmd := e.command(context.Background(), "api-service", "--listen=127.0.0.1:0")
	s := &apiService{cmd: cmd, done: make(chan error, 1), stderr: &lockedBuffer{}}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting rkt api-service: %v", err)
	}
	pw.Close()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.stderr.Write([]byte(sc.Text() + "\n"))
			if m := listeningRe.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() { s.stop(t) })
	var a string
	select {
	case a = <-addr:
	case err := <-s.done:
		s.done <- err
		t.Fatalf("rkt api-service exited before listening: %v\n%s", err, s.stderr.String())
	case <-time.After(time.Minute):
		t.Fatalf("rkt api-service not listening after a minute:\n%s", s.stderr.String())
	}
	conn, err := grpc.NewClient(a, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s.client = v1alpha.NewPublicAPIClient(conn)
	return s
}

// stop ends the service with SIGTERM, as systemd does; it must exit 0.
func (s *apiService) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Errorf("rkt api-service after SIGTERM: %v, want exit 0\n%s", err, s.stderr.String())
		}
	case <-time.After(time.Minute):
		s.cmd.Process.Kill()
		t.Errorf("rkt api-service still running a minute after SIGTERM")
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	t.Cleanup(cancel)
	return ctx
}

// listPods is ListPods with filters that must succeed; it returns the
// pods by UUID.
func (s *apiService) listPods(t *testing.T, detail bool, filters ...*v1alpha.PodFilter) map[string]*v1alpha.Pod {
	t.Helper()
	resp, err := s.client.ListPods(ctxT(t), &v1alpha.ListPodsRequest{Filters: filters, Detail: detail})
	if err != nil {
		t.Fatalf("ListPods: %v", err)
	}
	out := map[string]*v1alpha.Pod{}
	for _, p := range resp.Pods {
		out[p.Id] = p
	}
	return out
}

func (s *apiService) listImages(t *testing.T, filters ...*v1alpha.ImageFilter) []string {
	t.Helper()
	resp, err := s.client.ListImages(ctxT(t), &v1alpha.ListImagesRequest{Filters: filters})
	if err != nil {
		t.Fatalf("ListImages: %v", err)
	}
	var names []string
	for _, img := range resp.Images {
		if len(img.Manifest) != 0 {
			t.Errorf("ListImages without detail gave %s's manifest", img.Name)
		}
		names = append(names, img.Name+":"+img.Version)
	}
	slices.Sort(names)
	return names
}

// eventStream is an open ListenEvents stream whose events a goroutine
// collects.
type eventStream struct {
	events chan *v1alpha.Event
	seen   []*v1alpha.Event
}

// listen opens a ListenEvents stream with filter and waits for its first
// (empty) message, after which every change is reported.
func (s *apiService) listen(t *testing.T, filter *v1alpha.EventFilter) *eventStream {
	t.Helper()
	stream, err := s.client.ListenEvents(ctxT(t), &v1alpha.ListenEventsRequest{Filter: filter})
	if err != nil {
		t.Fatalf("ListenEvents: %v", err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("ListenEvents: first message: %v", err)
	}
	es := &eventStream{events: make(chan *v1alpha.Event, 1000)}
	go func() {
		defer close(es.events)
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			for _, e := range resp.Events {
				es.events <- e
			}
		}
	}()
	return es
}

// event describes an awaited event: its type, id and from ("" for any).
type event struct {
	typ      v1alpha.EventType
	id, from string
}

// await waits at most a minute for the wanted events. Events of one id
// (a pod, an image) must come in the order given; those of different ids
// may interleave (several changes between two looks at the disk come in
// one batch, pods before images), and other events may come between.
func (es *eventStream) await(t *testing.T, want ...event) {
	t.Helper()
	pending := map[string][]event{}
	n := 0
	for _, w := range want {
		pending[w.id] = append(pending[w.id], w)
		n++
	}
	deadline := time.After(time.Minute)
	for n > 0 {
		select {
		case e, ok := <-es.events:
			if !ok {
				t.Fatalf("the event stream ended; still waiting for %v after %v", pending, es.seen)
			}
			es.seen = append(es.seen, e)
			q := pending[e.Id]
			if len(q) > 0 && e.Type == q[0].typ && (q[0].from == "" || e.From == q[0].from) {
				pending[e.Id] = q[1:]
				n--
			}
		case <-deadline:
			t.Fatalf("still waiting for events %v after a minute; got %v", pending, es.seen)
		}
	}
}

// waitPod polls ListPods until the pod uuid is listed and ok, for at most
// a minute.
func waitPod(t *testing.T, api *apiService, uuid string, ok func(*v1alpha.Pod) bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		p := api.listPods(t, false)[uuid]
		if p != nil && ok(p) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s is %v after a minute", uuid, p)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAPIService: rkt api-service, run as a member of group rkt (no root,
// read access to the data dir), answers a Go client of rkt 1.30's
// v1alpha API about pods and images that root runs, fetches and removes
// while it serves; it writes nothing in the data dir and keeps serving
// until SIGTERM.
func TestAPIService(t *testing.T) {
	base := worldDir(t, "api-")
	pe := newPodEnv(t)
	ensureGroup(t, "rkt")
	member := newSystemUser(t, "rktt-api"+strconv.Itoa(os.Getpid()), "rkt")
	pe.useSharedDirs(base)

	api := startAPIService(t, pe.env.as(member))
	c := api.client

	info, err := c.GetInfo(ctxT(t), &v1alpha.GetInfoRequest{})
	if err != nil {
		t.Fatalf("GetInfo: %v", err)
	}
	if i := info.Info; i.ApiVersion != "1.0.0-alpha" || i.AppcVersion != "0.8.11" || i.RktVersion == "" ||
		i.GlobalFlags.GetDir() != pe.dataDir || i.GlobalFlags.GetLocalConfigDir() != pe.localConfig || i.GlobalFlags.GetInsecureFlags() != "none" {
		t.Errorf("GetInfo: %v", i)
	}
	if pods := api.listPods(t, false); len(pods) != 0 {
		t.Errorf("ListPods before any pod: %v", pods)
	}

	// Events from now on: every one, and the image ones only.
	events := api.listen(t, nil)
	imageEvents := api.listen(t, &v1alpha.EventFilter{Types: []v1alpha.EventType{
		v1alpha.EventType_EVENT_TYPE_IMAGE_IMPORTED, v1alpha.EventType_EVENT_TYPE_IMAGE_REMOVED}})

	// Root fetches and runs a pod that exits 3.
	quick := pe.busyboxImage("quick", []string{"/bin/sh", "-c", "exit 3"}, nil)
	quickID := pe.fetchID("--full", quick)
	exited, _, _, code := pe.runSaved("--pull-policy=never", pe.name("quick"))
	if code != 3 {
		t.Fatalf("the quick pod exited %d, want 3", code)
	}
	// And a pod that keeps running, with an annotation to filter on.
	pe.shImage("sleeper", "sleep 3600")
	sleeperID := pe.fetchID("--full", filepath.Join(pe.base, "sleeper.aci"))
	running, _ := pe.startPod("--pull-policy=never", pe.name("sleeper"), "--user-annotation=team=api")

	// The pod runs (holds its lock) a moment before its PID 1 exists
	// and enters the pod's cgroup.
	waitPod(t, api, running, func(p *v1alpha.Pod) bool { return p.Pid > 0 && p.Cgroup != "" })
	pods := api.listPods(t, false)
	if len(pods) != 2 {
		t.Fatalf("ListPods: %d pods, want 2: %v", len(pods), pods)
	}
	p := pods[exited]
	if p == nil || p.State != v1alpha.PodState_POD_STATE_EXITED || len(p.Apps) != 1 || p.Pid != -1 || p.CreatedAt == 0 || p.StartedAt == 0 || len(p.Manifest) != 0 {
		t.Fatalf("ListPods: the exited pod is %v", p)
	}
	if a := p.Apps[0]; a.Name != "quick" || a.State != v1alpha.AppState_APP_STATE_EXITED || a.ExitCode != 3 ||
		a.Image.GetId() != quickID || a.Image.GetName() != pe.name("quick") || a.Image.GetVersion() != "1.0" {
		t.Errorf("ListPods: the exited pod's app is %v", a)
	}
	r := pods[running]
	if r == nil || r.State != v1alpha.PodState_POD_STATE_RUNNING || r.Pid <= 0 || len(r.Apps) != 1 ||
		r.Apps[0].State != v1alpha.AppState_APP_STATE_RUNNING || r.Apps[0].ExitCode != -1 || r.Apps[0].Image.GetId() != sleeperID {
		t.Fatalf("ListPods: the running pod is %v", r)
	}
	if !strings.Contains(r.Cgroup, "rkt-"+running) {
		t.Errorf("the running pod's cgroup is %q, want its rkt-%s cgroup", r.Cgroup, running)
	}

	// Filters: alternatives across filters, every field within one.
	for _, tc := range []struct {
		name    string
		filters []*v1alpha.PodFilter
		want    []string
	}{
		{"running", []*v1alpha.PodFilter{{States: []v1alpha.PodState{v1alpha.PodState_POD_STATE_RUNNING}}}, []string{running}},
		{"id", []*v1alpha.PodFilter{{Ids: []string{exited}}}, []string{exited}},
		{"app", []*v1alpha.PodFilter{{AppNames: []string{"quick"}}}, []string{exited}},
		{"image", []*v1alpha.PodFilter{{ImageIds: []string{sleeperID}}}, []string{running}},
		{"annotation", []*v1alpha.PodFilter{{Annotations: []*v1alpha.KeyValue{{Key: "team", Value: "api"}}}}, nil},
		{"id and state", []*v1alpha.PodFilter{{Ids: []string{exited}, States: []v1alpha.PodState{v1alpha.PodState_POD_STATE_RUNNING}}}, nil},
		{"either", []*v1alpha.PodFilter{{Ids: []string{exited}}, {AppNames: []string{"sleeper"}}}, []string{exited, running}},
		{"cgroup", []*v1alpha.PodFilter{{Cgroups: []string{r.Cgroup}}}, []string{running}},
		{"sub-cgroup", []*v1alpha.PodFilter{{PodSubCgroups: []string{r.Cgroup + "/sleeper"}}}, []string{running}},
	} {
		got := api.listPods(t, false, tc.filters...)
		var ids []string
		for id := range got {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(ids, want) {
			t.Errorf("ListPods filtered by %s: %v, want %v", tc.name, ids, want)
		}
	}
	if d := api.listPods(t, true, &v1alpha.PodFilter{Ids: []string{running}})[running]; d == nil || !strings.Contains(string(d.Manifest), `"sleeper"`) {
		t.Errorf("ListPods with detail: no pod manifest: %v", d)
	}

	ip, err := c.InspectPod(ctxT(t), &v1alpha.InspectPodRequest{Id: exited})
	if err != nil || ip.Pod.Id != exited || !strings.Contains(string(ip.Pod.Manifest), pe.name("quick")) || ip.Pod.Apps[0].ExitCode != 3 {
		t.Errorf("InspectPod: %v %v", ip, err)
	}
	if _, err := c.InspectPod(ctxT(t), &v1alpha.InspectPodRequest{Id: "00000000-0000-0000-0000-000000000000"}); status.Code(err) != codes.NotFound {
		t.Errorf("InspectPod of no pod: %v, want NotFound", err)
	}

	// Images, filtered.
	all := api.listImages(t)
	for _, n := range []string{pe.name("quick") + ":1.0", pe.name("sleeper") + ":1.0"} {
		if !slices.Contains(all, n) {
			t.Errorf("ListImages: %v, want %s among them", all, n)
		}
	}
	if got := api.listImages(t, &v1alpha.ImageFilter{BaseNames: []string{"quick"}}); !slices.Equal(got, []string{pe.name("quick") + ":1.0"}) {
		t.Errorf("ListImages by base name quick: %v", got)
	}
	if got := api.listImages(t, &v1alpha.ImageFilter{Prefixes: []string{pe.prefix()}, Keywords: []string{"slee"}}); !slices.Equal(got, []string{pe.name("sleeper") + ":1.0"}) {
		t.Errorf("ListImages by prefix and keyword: %v", got)
	}
	if got := api.listImages(t, &v1alpha.ImageFilter{Ids: []string{quickID}}, &v1alpha.ImageFilter{FullNames: []string{pe.name("sleeper")}}); len(got) != 2 {
		t.Errorf("ListImages by ID or full name: %v, want both images", got)
	}
	if got := api.listImages(t, &v1alpha.ImageFilter{Labels: []*v1alpha.KeyValue{{Key: "os", Value: "windows"}}}); len(got) != 0 {
		t.Errorf("ListImages by a label no image has: %v", got)
	}
	ii, err := c.InspectImage(ctxT(t), &v1alpha.InspectImageRequest{Id: quickID})
	if err != nil || ii.Image.Id != quickID || ii.Image.Name != pe.name("quick") || ii.Image.Size <= 0 || ii.Image.ImportTimestamp == 0 ||
		!strings.Contains(string(ii.Image.Manifest), pe.name("quick")) || ii.Image.BaseFormat.GetType() != v1alpha.ImageType_IMAGE_TYPE_APPC {
		t.Errorf("InspectImage: %v %v", ii, err)
	}

	// Pods and images come and go while the service runs: it sees each
	// change at the next request.
	pe.ok("gc", "--grace-period=0s")
	if pods := api.listPods(t, false); pods[exited] != nil || pods[running] == nil {
		t.Errorf("ListPods after gc: %v, want the running pod only", pods)
	}
	pe.ok("image", "rm", quickID)
	if _, err := c.InspectImage(ctxT(t), &v1alpha.InspectImageRequest{Id: quickID}); status.Code(err) != codes.NotFound {
		t.Errorf("InspectImage of a removed image: %v, want NotFound", err)
	}
	pe.ok("stop", running)
	waitPod(t, api, running, func(p *v1alpha.Pod) bool { return p.State == v1alpha.PodState_POD_STATE_EXITED })

	// The events of all this, as the disk showed them.
	const (
		imported = v1alpha.EventType_EVENT_TYPE_IMAGE_IMPORTED
		removed  = v1alpha.EventType_EVENT_TYPE_IMAGE_REMOVED
	)
	events.await(t,
		event{imported, quickID, pe.name("quick")},
		event{v1alpha.EventType_EVENT_TYPE_POD_STARTED, exited, ""},
		event{v1alpha.EventType_EVENT_TYPE_APP_STARTED, exited, "quick"},
		event{v1alpha.EventType_EVENT_TYPE_APP_EXITED, exited, "quick"},
		event{v1alpha.EventType_EVENT_TYPE_POD_EXITED, exited, ""},
		event{v1alpha.EventType_EVENT_TYPE_POD_STARTED, running, ""},
		event{v1alpha.EventType_EVENT_TYPE_POD_GARBAGE_COLLECTED, exited, ""},
		event{removed, quickID, pe.name("quick")},
		event{v1alpha.EventType_EVENT_TYPE_POD_EXITED, running, ""},
	)
	for _, e := range events.seen {
		if e.Type == v1alpha.EventType_EVENT_TYPE_APP_EXITED && e.Id == exited &&
			(len(e.Data) != 1 || e.Data[0].Key != "exit_code" || e.Data[0].Value != "3") {
			t.Errorf("the quick app's exit event: %v, want exit_code 3", e)
		}
	}
	imageEvents.await(t, event{imported, quickID, ""}, event{imported, sleeperID, ""}, event{removed, quickID, ""})
	for _, e := range imageEvents.seen {
		if e.Type != imported && e.Type != removed {
			t.Errorf("the image event stream sent %v", e)
		}
	}

	// Read-only: nothing in the data dir belongs to the service's user.
	err = filepath.WalkDir(pe.dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // pods removed meanwhile
		}
		if fi, err := os.Lstat(p); err == nil && fi.Sys().(*syscall.Stat_t).Uid == member.cred.Uid {
			t.Errorf("the api-service's user owns %s: the service wrote to the data dir", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	api.stop(t)
	if !strings.Contains(api.stderr.String(), "API service running") {
		t.Errorf("rkt api-service's stderr lacks rkt 1.30's \"API service running\":\n%s", api.stderr.String())
	}
}

// TestAPIServiceSocketActivation: started by systemd with a socket
// (LISTEN_FDS, LISTEN_PID of rkt, which execs the service in its own
// process), rkt api-service serves on that socket; with --listen as well
// it refuses to start, as rkt 1.30 did.
func TestAPIServiceSocketActivation(t *testing.T) {
	e := newEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	activated := func(args ...string) *exec.Cmd {
		// sh sets LISTEN_PID to its own PID, which exec hands to rkt.
		cmd := e.command(context.Background())
		cmd.Args = []string{"sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, cmd.Path}
		cmd.Args = append(cmd.Args, append(e.globalArgs(), append([]string{"api-service"}, args...)...)...)
		cmd.Path = "/bin/sh"
		cmd.Env = append(cmd.Env, "LISTEN_FDS=1")
		cmd.ExtraFiles = []*os.File{f} // fd 3
		return cmd
	}

	if out, err := activated("--listen=127.0.0.1:0").CombinedOutput(); exitCode(t, err) != 254 || !strings.Contains(string(out), "--listen was given too") {
		t.Errorf("socket-activated api-service with --listen: %v, want exit 254 and the reason\n%s", err, out)
	}

	cmd := activated()
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("socket-activated api-service after SIGTERM: %v\n%s", err, stderr.String())
			}
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			t.Errorf("socket-activated api-service still running a minute after SIGTERM")
		}
	}()
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	info, err := v1alpha.NewPublicAPIClient(conn).GetInfo(ctxT(t), &v1alpha.GetInfoRequest{}, grpc.WaitForReady(true))
	if err != nil || info.Info.GlobalFlags.GetDir() != e.dataDir {
		t.Errorf("GetInfo over the passed socket: %v %v\n%s", info, err, stderr.String())
	}
}
