package podspec

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
	"github.com/spf13/pflag"

	"github.com/rkt/rkt/common/podlayout"
)

func parse(t *testing.T, cmd string, args ...string) *Plan {
	t.Helper()
	plan := &Plan{Command: cmd}
	if err := Parse(args, plan); err != nil {
		t.Fatalf("Parse(%q): %v", args, err)
	}
	return plan
}

func TestPerImageFlagsBindToThePrecedingImage(t *testing.T) {
	plan := parse(t, "run",
		"--volume=data,kind=empty,mode=0700",
		"example.com/one", "--exec=/bin/sh", "--name=first", "--user=nobody", "--group", "users",
		"--supplementary-gids=10,20", "--working-dir=/srv", "--readonly-rootfs",
		"--environment=A=1", "--environment", "B=x=y", "--mount", "volume=data,target=/data",
		"--signature=one.asc", "--annotation=example.com/a=b", "--", "-c", "echo hi", "---",
		"example.com/two", "--name", "second", "--", "x", "--", "y",
	)
	if len(plan.Apps) != 2 {
		t.Fatalf("apps = %d, want 2", len(plan.Apps))
	}
	one, two := plan.Apps[0], plan.Apps[1]
	want := App{
		Image: "example.com/one", Signature: "one.asc", Name: "first", Exec: []string{"/bin/sh"},
		Args: []string{"-c", "echo hi"}, User: "nobody", Group: "users", SupplementaryGIDs: []int{10, 20},
		WorkingDir: "/srv", ReadOnlyRootfs: true, Environment: map[string]string{"A": "1", "B": "x=y"},
		Mounts:      []schema.Mount{{Volume: "data", Path: "/data"}},
		Annotations: map[string]string{"example.com/a": "b"},
	}
	if !reflect.DeepEqual(one, want) {
		t.Errorf("first app:\n got %+v\nwant %+v", one, want)
	}
	// Everything after "--" up to the end is an argument, "--" included.
	if two.Name != "second" || !reflect.DeepEqual(two.Args, []string{"x", "--", "y"}) || two.Exec != nil {
		t.Errorf("second app = %+v", two)
	}
	if len(plan.Volumes) != 1 || plan.Volumes[0].Name != "data" || plan.Volumes[0].Kind != "empty" || *plan.Volumes[0].Mode != "0700" {
		t.Errorf("volumes = %+v", plan.Volumes)
	}
	if plan.PullPolicy != "new" || !reflect.DeepEqual(plan.Runtime.NetList, []string{"default"}) {
		t.Errorf("defaults: pull policy %q, net %q", plan.PullPolicy, plan.Runtime.NetList)
	}
}

func TestPodAndGlobalFlags(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	if err := os.WriteFile(envFile, []byte("# comment\n\nFROMFILE=1\nBOTH=file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The CLI's persistent flags, which the command line may give anywhere.
	globals := pflag.NewFlagSet("rkt", pflag.ContinueOnError)
	globals.String("dir", "/var/lib/rkt", "")
	globals.Bool("debug", false, "")
	globals.String("insecure-options", "none", "")
	globals.Bool("trust-keys-from-https", true, "")
	globals.String("local-config", "/etc/rkt", "")
	plan := &Plan{Command: "run"}
	args := []string{
		"--dir=/tmp/rkt", "--debug", "--insecure-options", "image,tls",
		"--set-env=BOTH=flag", "--set-env-file", envFile, "--inherit-env",
		"--volume", "host,kind=host,source=/etc,readOnly=true,recursive=false",
		"--port=http:8080", "--port=https:127.0.0.1:8443",
		"--net=host", "--dns=8.8.8.8,1.1.1.1", "--dns-search=example.com", "--dns-opt=ndots:2",
		"--dns-domain=example.com", "--hosts-entry=10.0.0.1=db,cache", "--hostname=box",
		"--interactive", "--uuid-file-save=/tmp/uuid", "--pull-policy=never", "--no-overlay",
		"--mds-register=true", "--stage1-path=/s1.aci", "--ipc=private",
		"img",
		"--trust-keys-from-https=false",
	}
	if err := ParseFlags(globals, args, plan); err != nil {
		t.Fatalf("Parse(%q): %v", args, err)
	}
	wantGlobals := map[string]string{"dir": "/tmp/rkt", "debug": "true", "insecure-options": "image,tls", "trust-keys-from-https": "false"}
	gotGlobals := map[string]string{}
	globals.VisitAll(func(f *pflag.Flag) {
		if _, ok := wantGlobals[f.Name]; f.Changed && (ok || f.Name == "local-config") {
			gotGlobals[f.Name] = f.Value.String()
		}
	})
	if !reflect.DeepEqual(gotGlobals, wantGlobals) {
		t.Errorf("globals = %v, want %v", gotGlobals, wantGlobals)
	}
	rt := plan.Runtime
	if !reflect.DeepEqual(rt.SetEnv, map[string]string{"BOTH": "flag", "FROMFILE": "1"}) {
		t.Errorf("set env = %v (--set-env must win over the file whatever the order)", rt.SetEnv)
	}
	if !plan.InheritEnv || !plan.NoOverlay || !plan.MDSRegister || !rt.Interactive || !rt.Debug {
		t.Errorf("booleans not set: %+v", plan)
	}
	if !reflect.DeepEqual(rt.NetList, []string{"host"}) || !reflect.DeepEqual(rt.DNS, []string{"8.8.8.8", "1.1.1.1"}) ||
		!reflect.DeepEqual(rt.DNSSearch, []string{"example.com"}) || !reflect.DeepEqual(rt.DNSOpt, []string{"ndots:2"}) ||
		rt.DNSDomain != "example.com" || rt.Hostname != "box" ||
		!reflect.DeepEqual(rt.HostsEntries, map[string][]string{"10.0.0.1": {"db", "cache"}}) {
		t.Errorf("runtime = %+v", rt)
	}
	if plan.UUIDFileSave != "/tmp/uuid" || plan.PullPolicy != "never" || plan.Stage1.Path != "/s1.aci" || plan.IPC != "private" {
		t.Errorf("plan = %+v", plan)
	}
	if len(plan.Ports) != 2 || plan.Ports[0].HostPort != 8080 || plan.Ports[1].HostIP.String() != "127.0.0.1" {
		t.Errorf("ports = %+v", plan.Ports)
	}
	if v := plan.Volumes[0]; v.Kind != "host" || v.Source != "/etc" || !*v.ReadOnly || *v.Recursive {
		t.Errorf("host volume = %+v", v)
	}
	if got := plan.DNSConfMode(); got != "resolv=stage0,hosts=stage0" {
		t.Errorf("DNSConfMode = %q", got)
	}
}

func TestNetAloneMeansDefault(t *testing.T) {
	// As in rkt, a bare --net does not take the next word: "host" here is
	// the image.
	plan := parse(t, "run", "--net", "host")
	if !reflect.DeepEqual(plan.Runtime.NetList, []string{"default"}) || len(plan.Apps) != 1 || plan.Apps[0].Image != "host" {
		t.Errorf("net %q apps %+v", plan.Runtime.NetList, plan.Apps)
	}
	plan = parse(t, "run", "--net=a", "--net=b:IP=10.1.1.1", "img")
	if !reflect.DeepEqual(plan.Runtime.NetList, []string{"a", "b:IP=10.1.1.1"}) {
		t.Errorf("repeated --net: %q", plan.Runtime.NetList)
	}
}

func TestDNSConfMode(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "resolv=default,hosts=default"},
		{[]string{"--dns=host"}, "resolv=host,hosts=default"},
		{[]string{"--dns=none", "--hosts-entry=host"}, "resolv=none,hosts=host"},
		{[]string{"--dns-search=a.example"}, "resolv=stage0,hosts=default"},
	} {
		plan := parse(t, "run", append(tc.args, "img")...)
		if got := plan.DNSConfMode(); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestPrepareFlags(t *testing.T) {
	plan := parse(t, "prepare", "--quiet", "img")
	if !plan.Quiet {
		t.Error("--quiet not set")
	}
	for _, f := range []string{"--net=host", "--dns=8.8.8.8", "--hostname=x", "--interactive", "--mds-register", "--hosts-entry=host", "--ipc=auto"} {
		err := Parse([]string{f, "img"}, &Plan{Command: "prepare"})
		if !errors.Is(err, ErrUsage) {
			t.Errorf("prepare %s: err = %v, want a usage error", f, err)
		}
	}
	if err := Parse([]string{"--quiet", "img"}, &Plan{Command: "run"}); !errors.Is(err, ErrUsage) {
		t.Errorf("run --quiet: err = %v, want a usage error", err)
	}
}

func TestDeprecatedFlagsWarn(t *testing.T) {
	plan := parse(t, "run", "--store-only", "img")
	if plan.PullPolicy != "never" || len(plan.Warnings) != 1 || !strings.Contains(plan.Warnings[0], "--pull-policy=never") {
		t.Errorf("store-only: policy %q warnings %q", plan.PullPolicy, plan.Warnings)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	badEnv := filepath.Join(dir, "env")
	os.WriteFile(badEnv, []byte("NOEQUALS\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string // in the message
	}{
		{nil, "at least one image"},
		{[]string{"--exec=/bin/sh", "img"}, "--exec must follow an image"},
		{[]string{"--name=x"}, "--name must follow an image"},
		{[]string{"--", "a"}, "must follow an image"},
		{[]string{"img", "---"}, "---"},
		{[]string{"img", "--frobnicate"}, "unknown flag: --frobnicate"},
		{[]string{"img", "-x"}, "unknown shorthand flag"},
		{[]string{"img", "--exec"}, "flag needs an argument: --exec"},
		{[]string{"img", "--name=Bad_Name"}, "--name"},
		{[]string{"img", "--name=../etc"}, "--name"},
		{[]string{"a", "--name=x", "b", "--name=x"}, "two apps are named \"x\""},
		{[]string{"img", "--exec=/a", "--exec=/b"}, "--exec given twice"},
		{[]string{"img", "--readonly-rootfs=maybe"}, "want true or false"},
		{[]string{"img", "--supplementary-gids=1,x"}, "gids"},
		{[]string{"img", "--working-dir=rel"}, "absolute"},
		{[]string{"img", "--environment=NOVALUE"}, "NAME=VALUE"},
		{[]string{"img", "--environment=1X=a"}, "NAME=VALUE"},
		{[]string{"img", "--mount=volume=data"}, "absolute"},
		{[]string{"img", "--mount=volume=data,target=/a/../../etc"}, "\"..\""},
		{[]string{"img", "--mount=volume=Data,target=/a"}, "volume name"},
		{[]string{"img", "--mount=vol=d,target=/a"}, "unknown key"},
		{[]string{"img", "--annotation=not an id=1"}, "NAME=VALUE"},
		{[]string{"--volume=v,kind=host", "img"}, "--volume"},
		{[]string{"--volume=v,kind=weird", "img"}, "--volume"},
		{[]string{"--volume=../v,kind=empty", "img"}, "--volume"},
		{[]string{"--volume=v,kind=empty", "--volume=v,kind=empty", "img"}, "given twice"},
		{[]string{"--port=http", "img"}, "--port"},
		{[]string{"--port=http:70000", "img"}, "--port"},
		{[]string{"--net=host,default", "img"}, "cannot be combined"},
		{[]string{"--net=../x", "img"}, "invalid --net value"},
		{[]string{"--net=default,default", "img"}, "given twice"},
		{[]string{"--net=all:IP=10.0.0.1", "img"}, "takes no arguments"},
		{[]string{"--net=none", "--net=default", "img"}, "cannot be combined"},
		{[]string{"--net=mynet:IP", "img"}, "KEY=VALUE"},
		{[]string{"--memory=1G", "img"}, "--memory must follow an image"},
		{[]string{"img", "--memory=lots"}, "--memory"},
		{[]string{"img", "--memory=-5M"}, "--memory"},
		{[]string{"img", "--memory=1G", "--memory=2G"}, "--memory given twice"},
		{[]string{"img", "--cpu=many"}, "--cpu"},
		{[]string{"img", "--cpu-shares=x"}, "--cpu-shares"},
		{[]string{"img", "--cpu-shares=1"}, "--cpu-shares"},
		{[]string{"img", "--oom-score-adj=2000"}, "--oom-score-adj"},
		{[]string{"img", "--caps-retain=CAP_FLY"}, "--caps-retain"},
		{[]string{"img", "--caps-retain=,"}, "at least one capability"},
		{[]string{"img", "--caps-retain=CAP_CHOWN", "--caps-remove=CAP_KILL"}, "cannot both be given"},
		{[]string{"img", "--seccomp=read,write"}, "mode"},
		{[]string{"img", "--seccomp=mode=retain,errno=EWHAT,read"}, "--seccomp"},
		{[]string{"img", "--seccomp=mode=remove"}, "no syscalls"},
		{[]string{"--dns=not-an-ip", "img"}, "--dns"},
		{[]string{"--dns=host", "--dns=8.8.8.8", "img"}, "cannot be combined"},
		{[]string{"--dns-search=a b", "img"}, "--dns-search"},
		{[]string{"--hosts-entry=x=y", "img"}, "--hosts-entry"},
		{[]string{"--hostname=-bad", "img"}, "--hostname"},
		{[]string{"--pull-policy=sometimes", "img"}, "--pull-policy"},
		{[]string{"--stage1-path=/a", "--stage1-name=b", "img"}, "only one of --stage1"},
		{[]string{"--stage1-hash=md5-00", "img"}, "--stage1-hash"},
		{[]string{"--stage1-from-dir=../x.aci", "img"}, "--stage1-from-dir"},
		{[]string{"--ipc=shared", "img"}, "--ipc"},
		{[]string{"--interactive", "a", "b"}, "--interactive"},
		{[]string{"--pod-manifest=/p.json", "img"}, "conflicting flags"},
		{[]string{"--pod-manifest=/p.json", "--volume=v,kind=empty"}, "conflicting flags"},
		{[]string{"--set-env-file=" + badEnv, "img"}, "line 1"},
	} {
		err := Parse(tc.args, &Plan{})
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want a usage error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestParseHelpAndIOErrors(t *testing.T) {
	if err := Parse([]string{"img", "--help"}, &Plan{}); !errors.Is(err, ErrHelp) {
		t.Errorf("--help: %v", err)
	}
	err := Parse([]string{"--set-env-file=/nonexistent/env", "img"}, &Plan{})
	if err == nil || errors.Is(err, ErrUsage) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing env file: %v, want a not-exist error that is not a usage error", err)
	}
	if err := Parse([]string{"--pod-manifest=/p.json", "--net=host", "--no-overlay"}, &Plan{}); err != nil {
		t.Errorf("--pod-manifest with --net and --no-overlay: %v", err)
	}
}

func imageManifest(t *testing.T, js string) *schema.ImageManifest {
	t.Helper()
	var im schema.ImageManifest
	if err := im.UnmarshalJSON([]byte(js)); err != nil {
		t.Fatal(err)
	}
	return &im
}

const key1 = "sha512-1111111111111111111111111111111111111111111111111111111111111111"
const key2 = "sha512-2222222222222222222222222222222222222222222222222222222222222222"

func TestManifestAppliesOverrides(t *testing.T) {
	t.Setenv("INHERITED", "host")
	t.Setenv("IMG", "host")
	busybox := imageManifest(t, `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/tools/busybox",
	  "labels":[{"name":"version","value":"1.0"},{"name":"os","value":"linux"}],
	  "app":{"exec":["/bin/sh","-c","echo"],"user":"0","group":"0","workingDirectory":"/",
	         "environment":[{"name":"IMG","value":"image"},{"name":"OVER","value":"image"}],
	         "mountPoints":[{"name":"scratch","path":"/scratch"},{"name":"data","path":"/data"},{"name":"cache","path":"/cache","readOnly":true}]}}`)
	plan := parse(t, "run", "--inherit-env", "--set-env=SET=1", "--volume=data,kind=empty",
		"example.com/tools/busybox", "--exec=/bin/echo", "--user=1000", "--group=1000",
		"--supplementary-gids=5", "--working-dir=/tmp", "--environment=OVER=flag", "--environment=SET=app",
		"--mount=volume=data,target=/data", "--annotation=example.com/x=y", "--readonly-rootfs",
		"--user-annotation=team=a", "--", "hello", "---",
		"example.com/tools/busybox", "--name=other", "--", "more",
	)
	pm, err := Manifest(plan, []ResolvedImage{{Key: key1, Manifest: busybox}, {Key: key2, Manifest: busybox}})
	if err != nil {
		t.Fatal(err)
	}
	if pm.ACVersion.String() != "0.8.11" || len(pm.Apps) != 2 {
		t.Fatalf("manifest: version %s, %d apps", pm.ACVersion, len(pm.Apps))
	}
	a := pm.Apps[0]
	if a.Name != "busybox" || a.Image.ID.String() != key1 || a.Image.Name.String() != "example.com/tools/busybox" {
		t.Errorf("first app: name %q image %+v", a.Name, a.Image)
	}
	if v, _ := a.Image.Labels.Get("version"); v != "1.0" {
		t.Errorf("image labels = %v", a.Image.Labels)
	}
	if !reflect.DeepEqual([]string(a.App.Exec), []string{"/bin/echo", "hello"}) {
		t.Errorf("exec = %q, want --exec and the args", a.App.Exec)
	}
	if a.App.User != "1000" || a.App.Group != "1000" || a.App.WorkingDirectory != "/tmp" || !reflect.DeepEqual(a.App.SupplementaryGIDs, []int{5}) || !a.ReadOnlyRootFS {
		t.Errorf("overrides not applied: %+v", a.App)
	}
	env := map[string]string{}
	for _, ev := range a.App.Environment {
		env[ev.Name] = ev.Value
	}
	for k, want := range map[string]string{"IMG": "image", "OVER": "flag", "SET": "1", "INHERITED": "host"} {
		if env[k] != want {
			t.Errorf("env %s = %q, want %q (all: %v)", k, env[k], want, env)
		}
	}
	if v, _ := a.Annotations.Get("example.com/x"); v != "y" {
		t.Errorf("annotations = %v", a.Annotations)
	}
	if pm.UserAnnotations["team"] != "a" {
		t.Errorf("user annotations = %v", pm.UserAnnotations)
	}
	b := pm.Apps[1]
	if b.Name != "other" || !reflect.DeepEqual([]string(b.App.Exec), []string{"/bin/sh", "-c", "echo", "more"}) || b.App.User != "0" {
		t.Errorf("second app = %+v %+v", b.Name, b.App)
	}
	// The image's manifest must not have been changed through shared slices.
	if !reflect.DeepEqual([]string(busybox.App.Exec), []string{"/bin/sh", "-c", "echo"}) || len(busybox.App.Environment) != 2 {
		t.Errorf("image manifest modified: %+v", busybox.App)
	}
	// data is declared; scratch and cache become implicit empty volumes.
	var names []string
	for _, v := range pm.Volumes {
		names = append(names, v.Name.String()+":"+v.Kind)
	}
	if !reflect.DeepEqual(names, []string{"data:empty", "scratch:empty", "cache:empty"}) {
		t.Errorf("volumes = %v", names)
	}
	if ro := pm.Volumes[2].ReadOnly; ro == nil || !*ro {
		t.Errorf("implicit volume of a read-only mount point is not read-only")
	}
}

func TestManifestErrors(t *testing.T) {
	app := imageManifest(t, `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/app","app":{"exec":["/app"],"user":"0","group":"0"}}`)
	noApp := imageManifest(t, `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/base"}`)
	for _, tc := range []struct {
		args   []string
		images []ResolvedImage
		want   string
	}{
		{[]string{"example.com/app", "example.com/app"}, []ResolvedImage{{key1, app}, {key2, app}}, "two apps are named \"app\""},
		{[]string{"example.com/base"}, []ResolvedImage{{key1, noApp}}, "--exec"},
		{[]string{"img", "--mount=volume=nope,target=/x"}, []ResolvedImage{{key1, app}}, "no --volume declares"},
	} {
		plan := parse(t, "run", tc.args...)
		_, err := Manifest(plan, tc.images)
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want a usage error containing %q", tc.args, err, tc.want)
		}
	}
	// An image without an app runs with --exec.
	plan := parse(t, "run", "example.com/base", "--exec=/bin/true")
	pm, err := Manifest(plan, []ResolvedImage{{key1, noApp}})
	if err != nil || pm.Apps[0].App.User != "0" || pm.Apps[0].App.Exec[0] != "/bin/true" {
		t.Errorf("no-app image with --exec: %v %+v", err, pm)
	}
}

func TestAppName(t *testing.T) {
	for in, want := range map[string]string{
		"example.com/app":          "app",
		"example.com/some/My_App2": "my-app2",
		"busybox":                  "busybox",
	} {
		got, err := AppName(in)
		if err != nil || got != want {
			t.Errorf("AppName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestLoadManifest(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"acKind":"PodManifest","acVersion":"0.8.11","apps":[{"name":"a","image":{"id":"`+key1+`"}}]}`), 0o644)
	pm, err := LoadManifest(good)
	if err != nil || len(pm.Apps) != 1 || pm.Apps[0].Name != types.ACName("a") {
		t.Fatalf("LoadManifest: %v %+v", err, pm)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"acKind":"PodManifest","acVersion":"0.8.11","apps":[{"name":"a","image":{"id":"`+key1+`"},"mounts":[{"volume":"v","path":"../../etc"}]}]}`), 0o644)
	if _, err := LoadManifest(bad); err == nil {
		t.Error("LoadManifest accepted a relative mount target")
	}
	// An app environment value a pod cannot carry is refused, as from the
	// flags.
	badEnv := filepath.Join(dir, "badenv.json")
	os.WriteFile(badEnv, []byte(`{"acKind":"PodManifest","acVersion":"0.8.11","apps":[{"name":"a","image":{"id":"`+key1+`"},
	  "app":{"exec":["/a"],"user":"0","group":"0","environment":[{"name":"X","value":"\u0000nul"}]}}]}`), 0o644)
	if _, err := LoadManifest(badEnv); !errors.Is(err, ErrInvalidEnv) {
		t.Errorf("LoadManifest of an app env value with a NUL: %v, want ErrInvalidEnv", err)
	}
}

// --inherit-env leaves out host variables whose values a pod cannot carry
// (not UTF-8), as it leaves out names the schema refuses.
func TestInheritEnvSkipsInvalidValues(t *testing.T) {
	t.Setenv("RKT_TEST_GOOD", "fine")
	t.Setenv("RKT_TEST_LATIN1", "caf\xe9")
	var names []string
	for _, ev := range hostEnvironment() {
		if strings.HasPrefix(ev.Name, "RKT_TEST_") {
			names = append(names, ev.Name)
		}
	}
	if !reflect.DeepEqual(names, []string{"RKT_TEST_GOOD"}) {
		t.Errorf("inherited %v, want only RKT_TEST_GOOD", names)
	}
}

func TestIsolatorFlags(t *testing.T) {
	plan := parse(t, "run",
		"example.com/one", "--memory=512M", "--cpu=500m", "--cpu-shares=512", "--oom-score-adj=-100",
		"--caps-retain=net_admin,CAP_CHOWN", "--seccomp=mode=retain,errno=ENOSYS,@rkt/default-whitelist,read",
		"example.com/two", "--cap-remove=CAP_KILL")
	if got := plan.Warnings; len(got) != 1 || !strings.Contains(got[0], "--caps-remove") {
		t.Errorf("warnings = %q, want the deprecation of --cap-remove", got)
	}
	one, err := plan.Apps[0].Isolators()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, iso := range one {
		names = append(names, iso.Name.String())
	}
	want := []string{"resource/memory", "resource/cpu", "os/linux/cpu-shares", "os/linux/oom-score-adj",
		"os/linux/capabilities-retain-set", "os/linux/seccomp-retain-set"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("isolators = %q, want %q", names, want)
	}
	if l := one[0].Value().(types.Resource).Limit(); l.String() != "512M" {
		t.Errorf("memory limit = %s", l)
	}
	retain := one[4].Value().(types.LinuxCapabilitiesSet).Set()
	if !reflect.DeepEqual(retain, []types.LinuxCapability{"CAP_CHOWN", "CAP_NET_ADMIN"}) {
		t.Errorf("retained caps = %q, want the names normalized", retain)
	}
	sc := one[5].Value().(types.LinuxSeccompSet)
	if sc.Errno() != "ENOSYS" || !reflect.DeepEqual(sc.Set(), []types.LinuxSeccompEntry{"@rkt/default-whitelist", "read"}) {
		t.Errorf("seccomp = %s %q", sc.Errno(), sc.Set())
	}
	two, err := plan.Apps[1].Isolators()
	if err != nil || len(two) != 1 || two[0].Name != types.LinuxCapabilitiesRevokeSetName {
		t.Errorf("second image: %v %+v, want only a capabilities-remove-set", err, two)
	}
}

func TestManifestFlagIsolatorsOverrideTheImage(t *testing.T) {
	im := imageManifest(t, `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/app",
	  "app":{"exec":["/app"],"user":"0","group":"0","isolators":[
	    {"name":"resource/memory","value":{"limit":"1G"}},
	    {"name":"os/linux/capabilities-remove-set","value":{"set":["CAP_NET_RAW"]}},
	    {"name":"os/linux/no-new-privileges","value":true}]}}`)
	plan := parse(t, "run", "example.com/app", "--memory=64M", "--caps-retain=CAP_NET_BIND_SERVICE")
	pm, err := Manifest(plan, []ResolvedImage{{key1, im}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]types.Isolator{}
	for _, iso := range pm.Apps[0].App.Isolators {
		if _, dup := got[iso.Name.String()]; dup {
			t.Errorf("isolator %s appears twice", iso.Name)
		}
		got[iso.Name.String()] = iso
	}
	if len(got) != 3 {
		t.Errorf("isolators = %v, want memory, capabilities-retain-set and no-new-privileges", got)
	}
	if mem, ok := got["resource/memory"]; !ok || mem.Value().(types.Resource).Limit().String() != "64M" {
		t.Errorf("memory = %+v, want the flag's 64M", mem)
	}
	if _, ok := got["os/linux/capabilities-remove-set"]; ok {
		t.Error("the image's remove set survived --caps-retain")
	}
	if _, ok := got["os/linux/no-new-privileges"]; !ok {
		t.Error("the image's no-new-privileges was dropped")
	}
	if len(im.App.Isolators) != 3 || im.App.Isolators[0].Value().(types.Resource).Limit().String() != "1G" {
		t.Errorf("image manifest modified: %+v", im.App.Isolators)
	}
	// The pod manifest must survive a round trip through its JSON: stage1
	// reads it back.
	data, err := pm.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var back schema.PodManifest
	if err := back.UnmarshalJSON(data); err != nil {
		t.Fatalf("pod manifest does not read back: %v", err)
	}
	if iso := back.Apps[0].App.Isolators.GetByName("os/linux/capabilities-retain-set"); iso == nil {
		t.Error("capabilities-retain-set lost in the JSON")
	}
}

func TestPrivateUsersAndIPC(t *testing.T) {
	plan := parse(t, "run", "--private-users", "--ipc=parent", "img")
	if plan.Runtime.PrivateUsers != "auto" || plan.Runtime.IPC != "parent" || plan.IPC != "parent" {
		t.Errorf("private users %q, ipc %q/%q", plan.Runtime.PrivateUsers, plan.Runtime.IPC, plan.IPC)
	}
	plan = parse(t, "prepare", "--private-users=false", "img")
	if plan.Runtime.PrivateUsers != "" {
		t.Errorf("--private-users=false: %q", plan.Runtime.PrivateUsers)
	}
}

func TestForwardedPorts(t *testing.T) {
	web := imageManifest(t, `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/web",
	  "app":{"exec":["/web"],"user":"0","group":"0","ports":[
	    {"name":"http","protocol":"tcp","port":80},{"name":"dns","protocol":"udp","port":53}]}}`)
	other := imageManifest(t, `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/other",
	  "app":{"exec":["/o"],"user":"0","group":"0","ports":[{"name":"http","protocol":"tcp","port":8080}]}}`)
	resolve := func(args []string, imgs ...*schema.ImageManifest) ([]podlayout.PortForward, error) {
		t.Helper()
		plan := parse(t, "run", args...)
		var ris []ResolvedImage
		for i, im := range imgs {
			ris = append(ris, ResolvedImage{[]string{key1, key2}[i], im})
		}
		pm, err := Manifest(plan, ris)
		if err != nil {
			t.Fatal(err)
		}
		return ForwardedPorts(pm)
	}
	got, err := resolve([]string{"--port=http:8080", "--port=dns:127.0.0.1:5353", "example.com/web"}, web)
	want := []podlayout.PortForward{
		{Name: "http", Protocol: "tcp", PodPort: 80, HostPort: 8080},
		{Name: "dns", Protocol: "udp", PodPort: 53, HostIP: "127.0.0.1", HostPort: 5353},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ForwardedPorts = %+v, %v; want %+v", got, err, want)
	}
	for _, tc := range []struct {
		args []string
		imgs []*schema.ImageManifest
		want string
	}{
		{[]string{"--port=https:443", "example.com/web"}, []*schema.ImageManifest{web}, `no app of the pod declares a port named "https" (declared: dns, http)`},
		{[]string{"--port=http:80", "example.com/web", "example.com/other"}, []*schema.ImageManifest{web, other}, "both declare"},
		{[]string{"--port=http:80", "--port=http:81", "example.com/web"}, []*schema.ImageManifest{web}, "forwarded twice"},
	} {
		_, err := resolve(tc.args, tc.imgs...)
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want a usage error containing %q", tc.args, err, tc.want)
		}
	}
	// One host port for a tcp and a udp port is fine; the wildcard address
	// overlaps a specific one.
	tcpAndUDP := imageManifest(t, `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/d",
	  "app":{"exec":["/d"],"user":"0","group":"0","ports":[
	    {"name":"a","protocol":"tcp","port":53},{"name":"b","protocol":"udp","port":53},{"name":"c","protocol":"tcp","port":54}]}}`)
	if _, err := resolve([]string{"--port=a:5353", "--port=b:5353", "example.com/d"}, tcpAndUDP); err != nil {
		t.Errorf("tcp and udp on one host port: %v", err)
	}
	if _, err := resolve([]string{"--port=a:127.0.0.1:5353", "--port=c:5353", "example.com/d"}, tcpAndUDP); !errors.Is(err, ErrUsage) {
		t.Errorf("127.0.0.1:5353 and *:5353: %v, want a usage error", err)
	}
}

// Nomad's rkt driver puts --mount before the first image; rkt 1.30 mounted
// such a mount into every app, after the app's own mounts, one mount per
// path.
func TestMountBeforeImagesGoesToEveryApp(t *testing.T) {
	img := imageManifest(t, `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/app",
	  "app":{"exec":["/bin/true"],"user":"0","group":"0"}}`)
	plan := parse(t, "prepare", "--volume=alloc,kind=host,source=/srv/alloc", "--volume=own,kind=empty",
		"--mount=volume=alloc,target=/alloc",
		"example.com/app", "--name=web",
		"example.com/app", "--name=db", "--mount=volume=own,target=/alloc/",
	)
	if len(plan.Mounts) != 1 || len(plan.Apps) != 2 {
		t.Fatalf("plan: pod mounts %v, %d apps", plan.Mounts, len(plan.Apps))
	}
	pm, err := Manifest(plan, []ResolvedImage{{Key: key1, Manifest: img}, {Key: key2, Manifest: img}})
	if err != nil {
		t.Fatal(err)
	}
	mounts := func(ra schema.RuntimeApp) []string {
		var out []string
		for _, m := range ra.Mounts {
			out = append(out, m.Volume.String()+"@"+m.Path)
		}
		return out
	}
	if got := mounts(pm.Apps[0]); !reflect.DeepEqual(got, []string{"alloc@/alloc"}) {
		t.Errorf("web mounts %v, want the pod-wide alloc@/alloc", got)
	}
	// db's own mount of the same path wins.
	if got := mounts(pm.Apps[1]); !reflect.DeepEqual(got, []string{"own@/alloc/"}) {
		t.Errorf("db mounts %v, want only its own own@/alloc/", got)
	}
}

// TestGroupFromPasswdReachesThePod: the marker of an image whose group is
// the user's primary one is copied to the pod's app, unless --group names
// a group.
func TestGroupFromPasswdReachesThePod(t *testing.T) {
	img := imageManifest(t, `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/oci",
	  "annotations":[{"name":"`+podlayout.AnnotationGroupFromPasswd+`","value":"true"}],
	  "app":{"exec":["/bin/true"],"user":"daemon","group":"0"}}`)
	for _, c := range []struct {
		flags []string
		want  bool
	}{{nil, true}, {[]string{"--user=other"}, true}, {[]string{"--group=staff"}, false}} {
		plan := parse(t, "run", append([]string{"example.com/oci"}, c.flags...)...)
		pm, err := Manifest(plan, []ResolvedImage{{Key: key1, Manifest: img}})
		if err != nil {
			t.Fatal(err)
		}
		v, ok := pm.Apps[0].Annotations.Get(podlayout.AnnotationGroupFromPasswd)
		if got := ok && v == "true"; got != c.want {
			t.Errorf("flags %v: marker on the pod's app %v, want %v", c.flags, got, c.want)
		}
	}
}
