package entrypoint

import (
	"reflect"
	"strings"
	"testing"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
)

func fullRunArgs() RunArgs {
	return RunArgs{
		Debug: true, Net: []string{"host"}, Interactive: true, MDSToken: "tok",
		LocalConfig: "/etc/rkt", Hostname: "h1", DNSConfMode: "resolv=host,hosts=default",
		DisableCapabilities: true, DisablePaths: true, DisableSeccomp: true,
		IPC: "private", UUID: "0b1f39e0-64c0-4a8c-a2b7-0d8d3b1f2a11",
	}
}

func TestRunArgsOrderAndVersionGating(t *testing.T) {
	a := fullRunArgs()
	tests := []struct {
		version int
		want    string
	}{
		{1, "--debug --net=host --interactive --mds-token=tok --local-config=/etc/rkt UUID"},
		{2, "--debug --net=host --interactive --mds-token=tok --local-config=/etc/rkt --hostname=h1 UUID"},
		{3, "--debug --net=host --interactive --mds-token=tok --local-config=/etc/rkt --hostname=h1 --disable-capabilities-restriction --disable-paths --disable-seccomp UUID"},
		{6, "--debug --net=host --interactive --mds-token=tok --local-config=/etc/rkt --hostname=h1 --dns-conf-mode=resolv=host,hosts=default --disable-capabilities-restriction --disable-paths --disable-seccomp --ipc=private UUID"},
	}
	for _, tt := range tests {
		got := strings.Join(a.Args(tt.version), " ")
		want := strings.ReplaceAll(tt.want, "UUID", a.UUID)
		if got != want {
			t.Errorf("version %d:\n got %s\nwant %s", tt.version, got, want)
		}
	}
}

func TestRunArgsRoundTrip(t *testing.T) {
	for _, a := range []RunArgs{fullRunArgs(), {Net: []string{"default"}, UUID: "u"}, {Net: []string{"n1:IP=10.0.0.2;k=v", "n2"}, UUID: "u"}} {
		got, err := ParseRunArgs(a.Args(6))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, a) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, a)
		}
	}
}

func TestParseRunArgsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--net=host"},
		{"--net=host", "u1", "u2"},
		{"--bogus", "u1"},
		{"--ipc=weird", "u1"},
	} {
		if _, err := ParseRunArgs(args); err == nil {
			t.Errorf("ParseRunArgs(%q) accepted", args)
		}
	}
	// rkt's flags this project does not use are accepted.
	if _, err := ParseRunArgs([]string{"--net=host", "--mutable", "--private-users=1:2", "u"}); err != nil {
		t.Errorf("rkt's --mutable/--private-users refused: %v", err)
	}
}

func TestEnterStopGCRoundTrip(t *testing.T) {
	e := EnterArgs{Pid: 42, AppName: "app", Cmd: []string{"/bin/sh", "-c", "--x"}}
	if got := strings.Join(e.Args(), " "); got != "--pid=42 --appname=app -- /bin/sh -c --x" {
		t.Errorf("enter args: %s", got)
	}
	ge, err := ParseEnterArgs(e.Args())
	if err != nil || !reflect.DeepEqual(ge, e) {
		t.Errorf("enter round trip: %+v, %v", ge, err)
	}
	if _, err := ParseEnterArgs([]string{"--appname=a", "--", "x"}); err == nil {
		t.Error("enter without --pid accepted")
	}

	s := StopArgs{Force: true, UUID: "u"}
	gs, err := ParseStopArgs(s.Args())
	if err != nil || gs != s {
		t.Errorf("stop round trip: %+v, %v", gs, err)
	}
	if got := (StopArgs{UUID: "u"}).Args(); !reflect.DeepEqual(got, []string{"u"}) {
		t.Errorf("stop args: %q", got)
	}

	g := GCArgs{Debug: true, LocalConfig: "/etc/rkt", UUID: "u"}
	gg, err := ParseGCArgs(g.Args())
	if err != nil || gg != g {
		t.Errorf("gc round trip: %+v, %v", gg, err)
	}
	// the contract's spelling with a space is read too
	gg, err = ParseGCArgs([]string{"--local-config", "/etc/rkt", "u"})
	if err != nil || gg.LocalConfig != "/etc/rkt" || gg.UUID != "u" {
		t.Errorf("gc with spaced flag: %+v, %v", gg, err)
	}
	if _, err := ParseGCArgs(nil); err == nil {
		t.Error("gc without UUID accepted")
	}
}

func TestInterfaceVersion(t *testing.T) {
	m := &schema.ImageManifest{}
	if v := InterfaceVersion(m); v != 1 {
		t.Errorf("missing annotation: %d, want 1", v)
	}
	if v := InterfaceVersion(nil); v != 1 {
		t.Errorf("nil manifest: %d, want 1", v)
	}
	SetEntrypoints(m, "/init", "/enter", "/stop", "/gc", InterfaceVersionNspawn)
	if v := InterfaceVersion(m); v != 6 {
		t.Errorf("declared 6: got %d", v)
	}
	if p, ok := Entrypoint(m, AnnotationRun); !ok || p != "/init" {
		t.Errorf("run entrypoint: %q %v", p, ok)
	}
	m.Annotations.Set(types.ACIdentifier(AnnotationInterfaceVersion), "six")
	if v := InterfaceVersion(m); v != 1 {
		t.Errorf("garbage annotation: %d, want 1", v)
	}
}
