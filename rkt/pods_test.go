package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
	v1 "github.com/rkt/rkt/api/v1"
	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/entrypoint"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage0/pod"
)

const testImageID = "sha512-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

// preparingPod creates a pod in e's data dir with a manifest naming apps
// (image example.com/<app>:1.0), still locked by this process.
func preparingPod(t *testing.T, e env, apps ...string) *pod.Pod {
	t.Helper()
	p, err := pod.Create(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	h, err := types.NewHash(testImageID)
	if err != nil {
		t.Fatal(err)
	}
	pm := schema.BlankPodManifest()
	for _, app := range apps {
		name := types.MustACIdentifier("example.com/" + app)
		ra := schema.RuntimeApp{Name: types.ACName(app), Image: schema.RuntimeImage{Name: name, ID: *h, Labels: types.Labels{{Name: "version", Value: "1.0"}}}}
		pm.Apps = append(pm.Apps, ra)
	}
	data, err := json.Marshal(pm)
	if err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteFile(podlayout.PodManifest(p.Path), data, 0o640); err != nil {
		t.Fatal(err)
	}
	return p
}

// exitedPod is a pod that ran and whose apps exited with codes.
func exitedPod(t *testing.T, e env, codes map[string]int, apps ...string) *pod.Pod {
	t.Helper()
	p := preparingPod(t, e, apps...)
	if _, err := p.Run(); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteFile(filepath.Join(p.Path, podlayout.PpidFile), []byte("1\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(podlayout.StatusDir(p.Path), 0o755); err != nil {
		t.Fatal(err)
	}
	for app, code := range codes {
		if err := podlayout.WriteAppStatus(podlayout.AppStatusPath(p.Path, app), code); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// statusMap parses rkt status's key=value lines.
func statusMap(t *testing.T, out string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("status line %q is not key=value", line)
		}
		m[k] = v
	}
	return m
}

func TestStatusKeyValues(t *testing.T) {
	e := newEnv(t)
	ex := exitedPod(t, e, map[string]int{"web": 0, "worker": 7}, "web", "worker")

	r := e.rkt(t, "", "status", ex.UUID[:8])
	if r.code != 0 {
		t.Fatalf("status: %d %s", r.code, r.stderr)
	}
	m := statusMap(t, r.stdout)
	for k, want := range map[string]string{"state": "exited", "exited": "true", "app-web": "0", "app-worker": "7", "networks": ""} {
		if got, ok := m[k]; !ok || got != want {
			t.Errorf("%s=%q (present %v), want %q\n%s", k, got, ok, want, r.stdout)
		}
	}
	for _, k := range []string{"created", "started", "pid"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %s= line in\n%s", k, r.stdout)
		}
	}
	if !strings.HasPrefix(r.stdout, "state=exited\ncreated=") {
		t.Errorf("status does not start with state then created:\n%s", r.stdout)
	}

	// A running pod: no app exit codes, exited=false, and the pid stage1
	// wrote.
	run := preparingPod(t, e, "web")
	if _, err := run.Run(); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteFile(filepath.Join(run.Path, podlayout.PidFile), []byte(strconv.Itoa(os.Getpid())), 0o640); err != nil {
		t.Fatal(err)
	}
	r = e.rkt(t, "", "status", run.UUID)
	m = statusMap(t, r.stdout)
	if m["state"] != "running" || m["exited"] != "false" || m["pid"] != strconv.Itoa(os.Getpid()) {
		t.Errorf("running pod status:\n%s", r.stdout)
	}
	if _, ok := m["app-web"]; ok {
		t.Errorf("running pod reports an app exit code:\n%s", r.stdout)
	}

	// A prepared pod: only state and created.
	prep := preparingPod(t, e, "web")
	if err := prep.Prepared(); err != nil {
		t.Fatal(err)
	}
	uuidFile := filepath.Join(t.TempDir(), "uuid")
	if err := os.WriteFile(uuidFile, []byte(prep.UUID+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = e.rkt(t, "", "status", "--uuid-file", uuidFile)
	if m := statusMap(t, r.stdout); m["state"] != "prepared" || len(m) != 2 {
		t.Errorf("prepared pod status:\n%s", r.stdout)
	}

	// --wait on an exited pod returns at once; --wait=5ms on a running one
	// times out.
	if r := e.rkt(t, "", "status", "--wait", ex.UUID); r.code != 0 {
		t.Errorf("status --wait of an exited pod: %d %s", r.code, r.stderr)
	}
	if r := e.rkt(t, "", "status", "--wait=50ms", run.UUID); r.code != 254 || !strings.Contains(r.stderr, "timed out") {
		t.Errorf("status --wait=50ms of a running pod: %d %q", r.code, r.stderr)
	}
	if r := e.rkt(t, "", "status", "--wait=often", run.UUID); r.code != 254 {
		t.Errorf("status --wait=often: %d %q, want a usage error", r.code, r.stderr)
	}

	r = e.rkt(t, "", "status", "--format=json", ex.UUID)
	var p v1.Pod
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("status --format=json: %v\n%s", err, r.stdout)
	}
	if p.UUID != ex.UUID || p.State != "exited" || len(p.Apps) != 2 || p.Apps[1].ExitCode == nil || *p.Apps[1].ExitCode != 7 || p.CreatedAt == nil {
		t.Errorf("status JSON %s", r.stdout)
	}

	for _, args := range [][]string{{"status"}, {"status", "--uuid-file", uuidFile, ex.UUID}} {
		if r := e.rkt(t, "", args...); r.code != 254 {
			t.Errorf("%v: exit %d, want 254", args, r.code)
		}
	}
	if r := e.rkt(t, "", "status", "00000000-0000-0000-0000-000000000000"); r.code != 254 {
		t.Errorf("status of an unknown pod: %d", r.code)
	}
}

func TestListTable(t *testing.T) {
	e := newEnv(t)
	ex := exitedPod(t, e, map[string]int{"web": 0}, "web", "worker")
	prep := preparingPod(t, e, "db")
	if err := prep.Prepared(); err != nil {
		t.Fatal(err)
	}

	r := e.rkt(t, "", "list")
	if r.code != 0 {
		t.Fatalf("list: %d %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("list printed %d lines, want a legend and 3 app rows:\n%s", len(lines), r.stdout)
	}
	if got := regexp.MustCompile(`\s+`).Split(lines[0], -1); strings.Join(got, " ") != "UUID APP IMAGE NAME STATE CREATED STARTED NETWORKS" {
		t.Errorf("legend %q", lines[0])
	}
	found := 0
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		switch {
		case len(f) > 0 && f[0] == ex.UUID[:8]:
			found++
			if f[1] != "web" || f[2] != "example.com/web:1.0" || f[3] != "exited" {
				t.Errorf("exited pod row %q", l)
			}
		case len(f) > 0 && f[0] == prep.UUID[:8]:
			found++
			if f[1] != "db" || f[3] != "prepared" || !strings.Contains(l, "-") {
				t.Errorf("prepared pod row %q", l)
			}
		case len(f) == 2 && f[0] == "worker":
			found++ // second app of the exited pod: app columns only
		default:
			t.Errorf("unexpected row %q", l)
		}
	}
	if found != 3 {
		t.Errorf("rows found %d, want 3:\n%s", found, r.stdout)
	}

	r = e.rkt(t, "", "list", "--full", "--no-legend")
	// rkt 1.30's --full image ID: sha512- and 12 hex digits.
	if strings.Contains(r.stdout, "UUID") || !strings.Contains(r.stdout, ex.UUID) || !strings.Contains(r.stdout, "\t"+testImageID[:len("sha512-")+12]+"\t") {
		t.Errorf("list --full --no-legend:\n%s", r.stdout)
	}

	r = e.rkt(t, "", "list", "--format=json")
	var pods []v1.Pod
	if err := json.Unmarshal([]byte(r.stdout), &pods); err != nil || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("list --format=json: %v\n%s", err, r.stdout)
	}
	if len(pods) != 2 {
		t.Fatalf("list JSON has %d pods", len(pods))
	}
	byName := map[string]v1.Pod{pods[0].UUID: pods[0], pods[1].UUID: pods[1]}
	if p := byName[ex.UUID]; p.State != "exited" || strings.Join(p.AppNames, ",") != "web,worker" || p.StartedAt == nil {
		t.Errorf("exited pod in JSON: %+v", p)
	}
	if p := byName[prep.UUID]; p.State != "prepared" || p.StartedAt != nil {
		t.Errorf("prepared pod in JSON: %+v", p)
	}
	if !strings.Contains(r.stdout, `"app_names":["web","worker"]`) || !strings.Contains(r.stdout, `"name":"`+ex.UUID+`"`) {
		t.Errorf("list JSON keys are not rkt's: %s", r.stdout)
	}

	if r := e.rkt(t, "", "list", "--format=xml"); r.code != 254 {
		t.Errorf("list --format=xml: %d", r.code)
	}
}

func TestCatManifest(t *testing.T) {
	e := newEnv(t)
	p := exitedPod(t, e, nil, "web")
	r := e.rkt(t, "", "cat-manifest", p.UUID)
	var pm schema.PodManifest
	if err := json.Unmarshal([]byte(r.stdout), &pm); err != nil || len(pm.Apps) != 1 || pm.Apps[0].Name != "web" {
		t.Fatalf("cat-manifest: %v %q %s", err, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "\n\t") {
		t.Errorf("cat-manifest is not indented by default:\n%s", r.stdout)
	}
	r = e.rkt(t, "", "cat-manifest", "--pretty-print=false", p.UUID)
	if strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("cat-manifest --pretty-print=false is not one line:\n%s", r.stdout)
	}
}

// withStage1GC gives p a stage1 whose gc entrypoint records its arguments
// in <data dir>/gc-ran-<uuid>.
func withStage1GC(t *testing.T, e env, p *pod.Pod) string {
	t.Helper()
	marker := filepath.Join(e.dir, "gc-ran-"+p.UUID)
	m := schema.BlankImageManifest()
	m.Name = "coreos.com/rkt/stage1-test"
	m.Annotations.Set(entrypoint.AnnotationGC, "/gc")
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(podlayout.Stage1Rootfs(p.Path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(podlayout.Stage1Manifest(p.Path), data, 0o644); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\n[ -f pod ] || exit 3\necho \"$@\" > " + marker + "\n"
	if err := os.WriteFile(filepath.Join(podlayout.Stage1Rootfs(p.Path), "gc"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return marker
}

func TestRmAndGC(t *testing.T) {
	e := newEnv(t)
	ex := exitedPod(t, e, map[string]int{"web": 0}, "web")
	marker := withStage1GC(t, e, ex)
	run := preparingPod(t, e, "web")
	if _, err := run.Run(); err != nil {
		t.Fatal(err)
	}

	r := e.rkt(t, "", "rm", ex.UUID, run.UUID)
	if r.code != 254 || r.stdout != strconv.Quote(ex.UUID)+"\n" {
		t.Errorf("rm of an exited and a running pod: %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "is currently running") {
		t.Errorf("rm of a running pod says %q", r.stderr)
	}
	if _, err := pod.Get(e.dir, ex.UUID); err == nil {
		t.Error("removed pod still listed")
	}
	got, err := os.ReadFile(marker)
	if err != nil || strings.TrimSpace(string(got)) != "--local-config="+e.local+" "+ex.UUID {
		t.Errorf("stage1 gc not run with rkt's arguments in the pod dir: %q %v", got, err)
	}

	// gc: --mark-only marks, then a zero grace period removes.
	ex2 := exitedPod(t, e, nil, "web")
	r = e.rkt(t, "", "gc", "--mark-only")
	if r.code != 0 || !strings.Contains(r.stderr, ex2.UUID) {
		t.Fatalf("gc --mark-only: %d %q", r.code, r.stderr)
	}
	if p, err := pod.Get(e.dir, ex2.UUID); err != nil || p.State != pod.ExitedGarbage {
		t.Fatalf("after gc --mark-only: %v %v", p, err)
	}
	r = e.rkt(t, "", "gc", "--grace-period=0s")
	if r.code != 0 || !strings.Contains(r.stderr, `garbage collecting pod "`+ex2.UUID+`"`) {
		t.Fatalf("gc --grace-period=0s: %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(ex2.Path); !os.IsNotExist(err) {
		t.Errorf("pod dir still there after gc: %v", err)
	}
	if p, err := pod.Get(e.dir, run.UUID); err != nil || p.State != pod.Running {
		t.Errorf("gc touched a running pod: %v %v", p, err)
	}
}

func TestRootRequired(t *testing.T) {
	e := newEnv(t)
	old := geteuid
	geteuid = func() int { return 1000 }
	t.Cleanup(func() { geteuid = old })
	for _, args := range [][]string{{"rm", "x"}, {"gc"}} {
		r := e.rkt(t, "", args...)
		if r.code != 254 || r.stderr != args[0]+": cannot run as unprivileged user\n" {
			t.Errorf("%v as a user: %d %q", args, r.code, r.stderr)
		}
	}
	if r := e.rkt(t, "", "list"); r.code != 0 {
		t.Errorf("list as a user: %d %q", r.code, r.stderr)
	}
}

func TestRunPrepareCommandLine(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args       []string
		code       int
		stderrHead string
	}{
		{[]string{"run"}, 254, "run: must provide at least one image"},
		{[]string{"run", "--exec", "/bin/true"}, 254, "run: "},
		{[]string{"prepare", "--net=host", "example.com/app"}, 254, "prepare: "},
		{[]string{"run", "--quiet", "example.com/app"}, 254, "run: "},
		{[]string{"run", "--insecure-options=bogus", "example.com/app"}, 254, `run: invalid argument "bogus" for --insecure-options`},
		{[]string{"run-prepared", "--ipc=shared", "x"}, 254, `run-prepared: invalid --ipc "shared"`},
		{[]string{"run-prepared", "--hosts-entry=nope", "x"}, 254, `run-prepared: --hosts-entry="nope"`},
		{[]string{"run-prepared"}, 254, "run-prepared: "},
		{[]string{"enter"}, 254, "enter: "},
		{[]string{"stop"}, 254, "stop: missing pod UUID"},
		{[]string{"run-prepared", "00000000-0000-0000-0000-000000000000"}, 254, "run-prepared: "},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := e.rkt(t, "", tc.args...)
			if r.code != tc.code || !strings.HasPrefix(r.stderr, tc.stderrHead) {
				t.Errorf("exit %d stderr %q, want %d and %q", r.code, r.stderr, tc.code, tc.stderrHead)
			}
		})
	}
	if r := e.rkt(t, "", "run", "--help"); r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
		t.Errorf("run --help: %d %q %q", r.code, r.stdout, r.stderr)
	}

	old := geteuid
	geteuid = func() int { return 1000 }
	defer func() { geteuid = old }()
	for _, args := range [][]string{{"run", "example.com/app"}, {"prepare", "example.com/app"}, {"run-prepared", "x"}, {"enter", "x"}} {
		if r := e.rkt(t, "", args...); r.code != 254 || r.stderr != args[0]+": cannot run as unprivileged user\n" {
			t.Errorf("%v as a user: %d %q", args, r.code, r.stderr)
		}
	}
}

func TestRunGlobalFlagsAfterCommand(t *testing.T) {
	e := newEnv(t)
	other := filepath.Join(t.TempDir(), "other")
	// paths.d names a data dir; --dir given after "run" must win over it.
	pathsD := filepath.Join(e.local, "paths.d")
	if err := os.MkdirAll(pathsD, 0o755); err != nil {
		t.Fatal(err)
	}
	cfgDir := filepath.Join(t.TempDir(), "configured")
	if err := os.WriteFile(filepath.Join(pathsD, "paths.json"), []byte(`{"rktKind":"paths","rktVersion":"v1","data":"`+cfgDir+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.rkt(t, "", "run", "--dir="+other, "--pull-policy=never", "example.com/app")
	if r.code != 254 {
		t.Fatalf("run of a missing image with --pull-policy=never: %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(other, "cas")); err != nil {
		t.Errorf("--dir after run not used: %v (stderr %q)", err, r.stderr)
	}
	if _, err := os.Stat(cfgDir); err == nil {
		t.Error("the configured data dir was used despite --dir")
	}
}
