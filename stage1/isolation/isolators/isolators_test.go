package isolators

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/common/isospec"
)

// appFromJSON decodes an app the way a manifest is read.
func appFromJSON(t *testing.T, isolators string) *types.App {
	t.Helper()
	var a types.App
	js := `{"exec":["/bin/true"],"user":"0","group":"0","isolators":` + isolators + `}`
	if err := json.Unmarshal([]byte(js), &a); err != nil {
		t.Fatalf("decoding app: %v", err)
	}
	return &a
}

func intp(v int) *int { return &v }

func TestParseImageIsolators(t *testing.T) {
	img := appFromJSON(t, `[
		{"name":"resource/memory","value":{"request":"64M","limit":"128M"}},
		{"name":"resource/cpu","value":{"request":"250m","limit":"1500m"}},
		{"name":"os/linux/cpu-shares","value":512},
		{"name":"os/linux/oom-score-adj","value":-300},
		{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_NET_ADMIN","CAP_CHOWN"]}},
		{"name":"os/linux/seccomp-remove-set","value":{"set":["reboot","@privileged"],"errno":"EPERM"}},
		{"name":"os/linux/no-new-privileges","value":true},
		{"name":"resource/network-bandwidth","value":{"default":true,"limit":"1G"}},
		{"name":"os/unix/sysctl","value":{"net.ipv4.ip_forward":"1"}}
	]`)
	// appc's manifest validation refuses unknown isolators; an app built
	// in code may still carry one.
	var unknown types.Isolator
	if err := json.Unmarshal([]byte(`{"name":"example.com/made-up","value":{"x":1}}`), &unknown); err != nil {
		t.Fatal(err)
	}
	img.Isolators = append(img.Isolators, unknown)
	s, un := Parse(img, nil)
	want := Spec{
		MemoryLimit: 128000000, CPUMilli: 1500, CPUShares: 512, OOMScoreAdj: intp(-300),
		CapsRetain:      []string{"CAP_NET_ADMIN", "CAP_CHOWN"},
		SeccompRemove:   &SeccompSet{Syscalls: []string{"reboot", "@privileged"}, Errno: "EPERM"},
		NoNewPrivileges: true,
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("spec\n got %+v\nwant %+v", s, want)
	}
	var names []string
	for _, u := range un {
		names = append(names, u.Name)
		if u.Reason == "" || !strings.Contains(u.String(), u.Name) {
			t.Errorf("unsupported entry without a reason: %+v", u)
		}
	}
	wantNames := []string{"resource/network-bandwidth", "os/unix/sysctl", "example.com/made-up"}
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("unsupported = %v, want %v", names, wantNames)
	}
	if r := s.Resources(); r.MemoryLimit != 128000000 || r.CPUMilli != 1500 || r.CPUShares != 512 || r.Devices != nil {
		t.Errorf("Resources() = %+v", r)
	}
	wantApplied := []string{"resource/memory", "resource/cpu", "os/linux/cpu-shares", "os/linux/oom-score-adj",
		"os/linux/capabilities-retain-set", "os/linux/seccomp-remove-set", "os/linux/no-new-privileges"}
	if got := s.Applied(); !reflect.DeepEqual(got, wantApplied) {
		t.Errorf("Applied() = %v", got)
	}
}

func TestParsePodOverridesImage(t *testing.T) {
	img := appFromJSON(t, `[
		{"name":"resource/memory","value":{"limit":"1G"}},
		{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_NET_ADMIN"]}},
		{"name":"os/linux/seccomp-retain-set","value":{"set":["read","write"]}},
		{"name":"os/linux/oom-score-adj","value":100}
	]`)
	pod := appFromJSON(t, `[
		{"name":"resource/memory","value":{"limit":"256Mi"}},
		{"name":"os/linux/capabilities-remove-set","value":{"set":["CAP_MKNOD"]}}
	]`)
	s, un := Parse(img, pod)
	if len(un) != 0 {
		t.Fatalf("unsupported: %v", un)
	}
	if s.MemoryLimit != 256<<20 {
		t.Errorf("memory = %d, want the pod's 256Mi", s.MemoryLimit)
	}
	if s.CapsRetain != nil || !reflect.DeepEqual(s.CapsRemove, []string{"CAP_MKNOD"}) {
		t.Errorf("caps retain %v remove %v: the pod's remove set must replace the image's retain set", s.CapsRetain, s.CapsRemove)
	}
	if s.SeccompRetain == nil || s.SeccompRetain.Errno != "" || len(s.SeccompRetain.Syscalls) != 2 {
		t.Errorf("seccomp from the image lost: %+v", s.SeccompRetain)
	}
	if s.OOMScoreAdj == nil || *s.OOMScoreAdj != 100 {
		t.Errorf("oom-score-adj from the image lost")
	}
	// A request alone limits nothing and is no error.
	s, un = Parse(appFromJSON(t, `[{"name":"resource/cpu","value":{"request":"1"}}]`), nil)
	if s.CPUMilli != 0 || len(un) != 0 {
		t.Errorf("request only: %+v %v", s, un)
	}
	if s, un := Parse(nil, nil); !reflect.DeepEqual(s, Spec{}) || un != nil {
		t.Errorf("no apps: %+v %v", s, un)
	}
}

func TestFromFlagsOverrideInManifest(t *testing.T) {
	isos, err := isospec.FromFlags(isospec.Flags{Memory: "512M", CPU: "750m", CPUShares: intp(100), OOMScoreAdj: intp(-17)})
	if err != nil {
		t.Fatal(err)
	}
	img := appFromJSON(t, `[
		{"name":"resource/memory","value":{"limit":"1G"}},
		{"name":"os/linux/cpu-shares","value":4096},
		{"name":"os/linux/no-new-privileges","value":true}
	]`)
	podApp := *img
	podApp.Isolators = append(types.Isolators(nil), img.Isolators...)
	isospec.Override(&podApp, isos)
	if len(img.Isolators) != 3 {
		t.Fatalf("Override changed the image's app")
	}

	// The overridden app goes through a pod manifest and back, as stage0
	// writes it and the supervisor reads it.
	pm := schema.BlankPodManifest()
	name := types.MustACName("app")
	pm.Apps = schema.AppList{{Name: *name, Image: schema.RuntimeImage{ID: *types.NewHashSHA512([]byte("image"))}, App: &podApp}}
	b, err := json.Marshal(pm)
	if err != nil {
		t.Fatal(err)
	}
	var back schema.PodManifest
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("pod manifest with flag isolators does not validate: %v", err)
	}
	s, un := Parse(img, back.Apps[0].App)
	if len(un) != 0 {
		t.Fatalf("unsupported: %v", un)
	}
	want := Spec{MemoryLimit: 512000000, CPUMilli: 750, CPUShares: 100, OOMScoreAdj: intp(-17), NoNewPrivileges: true}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("spec\n got %+v\nwant %+v", s, want)
	}
}
