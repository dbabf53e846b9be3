package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage1/appexec"
)

// writeFiles makes the files (path relative to root: content) under root,
// with the directories they need.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, content := range files {
		fsys[strings.TrimPrefix(name, "/")] = &fstest.MapFile{Data: []byte(content), Mode: 0o644}
	}
	if err := os.CopyFS(root, fsys); err != nil {
		t.Fatal(err)
	}
}

func openRoot(t *testing.T, dir string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestBuildEnv(t *testing.T) {
	env, err := buildEnv(envInput{
		App:         "web",
		Image:       types.Environment{{Name: "FOO", Value: "image"}, {Name: "KEEP", Value: "k"}, {Name: "AC_APP_NAME", Value: "spoof"}},
		Override:    types.Environment{{Name: "FOO", Value: "pod"}, {Name: "HOME", Value: "/data"}},
		SetEnv:      map[string]string{"ZED": "z", "BAR": "b", "KEEP": "set"},
		MetadataURL: "http://169.254.169.255:18112/token",
		ID:          appexec.Identity{UID: 1000, Name: "app", Home: "/home/app", Shell: "/bin/ash"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"PATH=" + DefaultPath, "HOME=/data", "USER=app", "LOGNAME=app", "SHELL=/bin/ash",
		"FOO=pod", "KEEP=set", "AC_APP_NAME=web", "BAR=b", "ZED=z",
		"AC_METADATA_URL=http://169.254.169.255:18112/token",
	}
	if got := env.List(); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}

	env, err = buildEnv(envInput{App: "a", Image: types.Environment{{Name: "PATH", Value: "/opt/bin"}}, Term: "xterm"})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"PATH=/opt/bin", "HOME=/", "SHELL=/bin/sh", "TERM=xterm", "AC_APP_NAME=a"}
	if got := env.List(); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}

	for _, bad := range []types.Environment{{{Name: "A=B", Value: "x"}}, {{Name: "", Value: "x"}}, {{Name: "N", Value: "a\x00b"}}} {
		if _, err := buildEnv(envInput{App: "a", Override: bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestWriteEnvFile(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, podlayout.InPodEnvDir), 0o755)
	env := newEnviron()
	env.Set("PATH", "/bin")
	env.Set("X", "a b=c")
	if err := writeEnvFile(root, "app", env); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, "rkt/env/app"))
	if err != nil || string(got) != "PATH=/bin\nX=a b=c\n" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestCopyPrefixed(t *testing.T) {
	long := strings.Repeat("x", maxLine+10)
	tests := []struct{ in, want string }{
		{"", ""},
		{"one\n", "a[7]: one\n"},
		{"one\ntwo\n", "a[7]: one\na[7]: two\n"},
		{"no newline", "a[7]: no newline\n"},
		{"one\n\nthree", "a[7]: one\na[7]: \na[7]: three\n"},
		{"crlf\r\n", "a[7]: crlf\r\n"},
		{long + "\nnext\n", "a[7]: " + long + "\na[7]: next\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := copyPrefixed(&b, strings.NewReader(tt.in), "a[7]: ", nil); err != nil {
			t.Fatal(err)
		}
		if b.String() != tt.want {
			t.Errorf("copyPrefixed(%.20q) = %.60q, want %.60q", tt.in, b.String(), tt.want)
		}
	}
	// Without a prefix (one app) the bytes pass unchanged.
	for _, in := range []string{"no newline", "a\x00\xff\nb", long} {
		var b bytes.Buffer
		if err := copyPrefixed(&b, strings.NewReader(in), "", nil); err != nil {
			t.Fatal(err)
		}
		if b.String() != in {
			t.Errorf("copyPrefixed(%.20q) without a prefix = %.60q, want it unchanged", in, b.String())
		}
	}
}

// An app's log keeps whole stamped lines and, past MaxLogPart, the
// previous part as <app>.1: at most twice MaxLogPart, the last line kept.
func TestAppLogRotates(t *testing.T) {
	root := t.TempDir()
	l, err := openAppLog(root, "app")
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("y", 1000) + "\n")
	n := 3 * podlayout.MaxLogPart / len(line)
	for i := 0; i < n; i++ {
		if err := l.line(line, time.Unix(int64(i), 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.line([]byte("last"), time.Unix(int64(n), 0)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, podlayout.InPodLogDir, "app")
	cur, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(p + ".1")
	if err != nil {
		t.Fatalf("no older part after %d bytes: %v", n*len(line), err)
	}
	if len(cur) > podlayout.MaxLogPart || len(old) > podlayout.MaxLogPart {
		t.Errorf("parts of %d and %d bytes, want at most %d each", len(cur), len(old), podlayout.MaxLogPart)
	}
	want := time.Unix(int64(n), 0).UTC().Format(podlayout.LogTimeLayout) + " last\n"
	if !strings.HasSuffix(string(cur), want) {
		t.Errorf("the log ends %q, want %q", cur[max(0, len(cur)-60):], want)
	}
	for _, b := range [][]byte{cur, old} {
		if !strings.HasPrefix(string(b), "19") || b[len(b)-1] != '\n' {
			t.Errorf("a part does not start with a stamped line or end whole: %.40q", b)
		}
	}
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, io.ErrClosedPipe
}

// A failing destination does not stop the draining of the app's pipe.
func TestCopyPrefixedDrainsOnWriteError(t *testing.T) {
	r := strings.NewReader(strings.Repeat("line\n", 1000))
	fw := &failingWriter{}
	if err := copyPrefixed(fw, r, "p: ", nil); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("got %v", err)
	}
	if r.Len() != 0 || fw.n != 1 {
		t.Fatalf("left %d bytes unread, %d writes", r.Len(), fw.n)
	}
}

// Lines of several writers never mix inside a line.
func TestCopyPrefixedConcurrent(t *testing.T) {
	var out bytes.Buffer
	lw := &lockedWriter{w: &out}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr, pw := io.Pipe()
			go func() {
				for j := 0; j < 200; j++ {
					fmt.Fprintf(pw, "%s\n", strings.Repeat(string(rune('a'+i)), 100))
				}
				pw.Close()
			}()
			copyPrefixed(lw, pr, fmt.Sprintf("app%d[%d]: ", i, i), nil)
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		var i int
		if _, err := fmt.Sscanf(l, "app%d", &i); err != nil {
			t.Fatalf("line %q", l)
		}
		if want := fmt.Sprintf("app%d[%d]: %s", i, i, strings.Repeat(string(rune('a'+i)), 100)); l != want {
			t.Fatalf("mixed line %q", l)
		}
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestSink(t *testing.T) {
	root := t.TempDir()
	s, err := newSink(root, []string{"a", "b"}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	status := filepath.Join(root, "rkt/status")
	ready := filepath.Join(root, "rkt/supervisor-status")
	mustReport := func(e event) {
		t.Helper()
		if err := s.report(e); err != nil {
			t.Fatal(err)
		}
	}
	mustReport(event{App: "a", Kind: evPreparing})
	mustReport(event{App: "b", Kind: evPreparing})
	mustReport(event{App: "a", Kind: evRunning, Pid: 10})
	for _, f := range []string{"a-created", "b-created", "a-started"} {
		if _, err := os.Stat(filepath.Join(status, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := os.Lstat(ready); err == nil || s.started.IsSet() {
		t.Fatal("ready before every app started")
	}
	// b fails before it ever runs (a pre-start handler): it counts as
	// started for readiness and as the first failure.
	mustReport(event{App: "b", Kind: evExited, Code: 3, Fail: true})
	if dest, err := os.Readlink(ready); err != nil || dest != "ready" || !s.started.IsSet() {
		t.Fatalf("supervisor-status: %q, %v", dest, err)
	}
	if !s.failed.IsSet() || s.exitCode() != 3 {
		t.Fatalf("failed %v, code %d", s.failed.IsSet(), s.exitCode())
	}
	if s.allExited.IsSet() {
		t.Fatal("all exited too early")
	}
	mustReport(event{App: "a", Kind: evExited, Code: 9, Fail: true})
	if !s.allExited.IsSet() || s.exitCode() != 3 {
		t.Fatalf("all exited %v, code %d; want the first failure's 3", s.allExited.IsSet(), s.exitCode())
	}
	for app, want := range map[string]int{"a": 9, "b": 3} {
		if code, err := podlayout.ReadAppStatus(filepath.Join(status, app)); err != nil || code != want {
			t.Errorf("status of %s: %d, %v; want %d", app, code, err, want)
		}
	}
	if err := s.report(event{App: "zz", Kind: evRunning}); err == nil {
		t.Error("an unknown app was accepted")
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, "rkt", ".tmp-*"))
	leftovers2, _ := filepath.Glob(filepath.Join(status, ".tmp-*"))
	if len(leftovers)+len(leftovers2) > 0 {
		t.Errorf("temp files left: %v %v", leftovers, leftovers2)
	}
}

func TestSinkSuccessAndStopExits(t *testing.T) {
	s, err := newSink(t.TempDir(), []string{"a", "b"}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	s.report(event{App: "a", Kind: evRunning})
	s.report(event{App: "b", Kind: evRunning})
	s.report(event{App: "a", Kind: evExited, Code: 0})
	s.report(event{App: "b", Kind: evExited, Code: 143, Fail: false}) // killed by the stop
	if s.failed.IsSet() || s.exitCode() != 0 || !s.allExited.IsSet() {
		t.Fatalf("failed %v code %d", s.failed.IsSet(), s.exitCode())
	}
}

func TestConditions(t *testing.T) {
	a, b := newCondition(), newCondition()
	all := allOf(a, b)
	a.Set()
	a.Set()
	select {
	case <-all.Done():
		t.Fatal("allOf set with one of two")
	default:
	}
	b.Set()
	<-all.Done()
	<-allOf().Done() // nothing to wait for
}

func TestAppVolumes(t *testing.T) {
	yes := true
	vols := []types.Volume{
		{Name: "data", Kind: "host", Source: "/srv", ReadOnly: &yes},
		{Name: "scratch", Kind: "empty", Recursive: &yes},
		{Name: "conf", Kind: "empty"},
	}
	inline := types.Volume{Name: "inline", Kind: "empty", ReadOnly: &yes}
	got, err := appVolumes(vols, []mountRef{
		{Volume: "data", Path: "/data"},
		{Volume: "scratch", Path: "/scratch"},
		{Volume: "conf", Path: "/etc/conf"},
		{Volume: "inline", Path: "/inline", AppVolume: &inline},
	}, []types.MountPoint{{Name: "conf", Path: "/etc/conf", ReadOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	want := []volumeMount{
		{Volume: "data", Target: "/data", ReadOnly: true},
		{Volume: "scratch", Target: "/scratch", Recursive: true},
		{Volume: "conf", Target: "/etc/conf", ReadOnly: true},
		{Volume: "inline", Target: "/inline", ReadOnly: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if _, err := appVolumes(vols, []mountRef{{Volume: "nope", Path: "/x"}}, nil); !errors.Is(err, ErrUnknownVolume) {
		t.Errorf("got %v", err)
	}

	// A volume that says readOnly=false overrides the image's read-only
	// mount point, as in rkt 1.30, whether mounted explicitly or filling
	// the mount point by name; unset, the mount point decides.
	no := false
	rw := []types.Volume{{Name: "db", Kind: "empty", ReadOnly: &no}, {Name: "logs", Kind: "empty"}}
	mps := []types.MountPoint{{Name: "db", Path: "/db", ReadOnly: true}, {Name: "logs", Path: "/logs", ReadOnly: true}}
	for _, mounts := range [][]mountRef{nil, {{Volume: "db", Path: "/db"}, {Volume: "logs", Path: "/logs"}}} {
		got, err := appVolumes(rw, mounts, mps)
		if err != nil {
			t.Fatal(err)
		}
		want := []volumeMount{{Volume: "db", Target: "/db"}, {Volume: "logs", Target: "/logs", ReadOnly: true}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("mounts %v: got %+v\nwant %+v", mounts, got, want)
		}
	}
}

func TestNameFiles(t *testing.T) {
	if got, want := resolvConf(&podlayout.RuntimeConfig{DNS: []string{"1.1.1.1", "8.8.8.8"}, DNSSearch: []string{"a.com", "b.com"}, DNSOpt: []string{"ndots:2"}, DNSDomain: "a.com"}),
		"search a.com b.com\ndomain a.com\nnameserver 1.1.1.1\nnameserver 8.8.8.8\noptions ndots:2\n"; got != want {
		t.Errorf("resolv.conf %q, want %q", got, want)
	}
	// rkt 1.30's layout, byte for byte: its fallback file with the
	// hostname on the first 127.0.0.1 line, then the --hosts-entry lines.
	h := hostsFile("rkt-x", map[string][]string{"10.0.0.2": {"b"}, "10.0.0.1": {"a", "aa"}})
	want := "# This is the default rkt /etc/hosts\n" +
		"127.0.0.1 localhost localhost.domain localhost4 localhost4.localdomain4 rkt-x\n" +
		"\n" +
		"::1 ip6-localhost ip6-loopback localhost6 localhost6.localdomain6\n" +
		"fe00::0 ip6-localnet\nff00::0 ip6-mcastprefix\nff02::1 ip6-allnodes\nff02::2 ip6-allrouters\nff02::3 ip6-allhosts\n" +
		"\n\n# Added by rkt run --hosts-entry\n" +
		"10.0.0.1 a aa\n10.0.0.2 b\n"
	if h != want {
		t.Errorf("hosts %q, want %q", h, want)
	}
	if h := hostsFile("rkt-y", nil); !strings.HasPrefix(h, "# This is the default rkt /etc/hosts\n127.0.0.1 localhost localhost.domain localhost4 localhost4.localdomain4 rkt-y\n") || strings.Contains(h, "Added by") {
		t.Errorf("hosts without entries %q", h)
	}

	// A symlinked /etc/resolv.conf in the image is replaced, not followed.
	outer := t.TempDir()
	dir := filepath.Join(outer, "rootfs")
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	writeFiles(t, outer, map[string]string{"target": "host file\n"})
	os.Symlink("../../target", filepath.Join(dir, "etc/resolv.conf"))
	root := openRoot(t, dir)
	err := writeNameFiles(root, rootfsSetup{Stage1: outer, Hostname: "h", Runtime: &podlayout.RuntimeConfig{DNS: []string{"9.9.9.9"}}})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(outer, "target")); string(b) != "host file\n" {
		t.Errorf("the file outside the rootfs was written: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/resolv.conf")); string(b) != "nameserver 9.9.9.9\n" {
		t.Errorf("resolv.conf %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/hosts")); !strings.Contains(string(b), "localhost4.localdomain4 h\n") {
		t.Errorf("hosts %q", b)
	}
}

// With the host's network and no DNS flags, the app gets the pod's
// resolv.conf (nspawn copies the host's); an existing /etc/hosts is kept.
func TestNameFilesHostNetwork(t *testing.T) {
	stage1 := t.TempDir()
	writeFiles(t, stage1, map[string]string{"etc/resolv.conf": "nameserver 10.1.1.1\n"})
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"etc/resolv.conf": "old\n", "etc/hosts": "1.2.3.4 mine\n"})
	root := openRoot(t, dir)
	if err := writeNameFiles(root, rootfsSetup{Stage1: stage1, Runtime: &podlayout.RuntimeConfig{NetList: []string{"host"}}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/resolv.conf")); string(b) != "nameserver 10.1.1.1\n" {
		t.Errorf("resolv.conf %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/hosts")); string(b) != "1.2.3.4 mine\n" {
		t.Errorf("hosts %q", b)
	}
	// Without the host's network nothing is copied.
	dir2 := t.TempDir()
	if err := writeNameFiles(openRoot(t, dir2), rootfsSetup{Stage1: stage1, Runtime: &podlayout.RuntimeConfig{NetList: []string{"none"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir2, "etc/resolv.conf")); err == nil {
		t.Error("resolv.conf written for a pod without the host's network")
	}
}
