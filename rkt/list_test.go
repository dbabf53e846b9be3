package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/rkt/rkt/api/v1"
	"github.com/rkt/rkt/common/podlayout"
)

// netInfoJSON is a pod's net-info.json as the stage1 writes it: one
// network with an address, one being added (no address yet).
const netInfoJSON = `[{"netName":"default","ifName":"eth0","ip":"172.16.28.2","mask":"255.255.255.0","args":"","gateway":"172.16.28.1"},
 {"netName":"lan","ifName":"eth1","args":"IP=10.1.1.9"}]`

func TestListAndStatusShowNetworks(t *testing.T) {
	e := newEnv(t)
	ex := exitedPod(t, e, map[string]int{"web": 0}, "web")
	if err := os.WriteFile(filepath.Join(ex.Path, podlayout.NetInfoFile), []byte(netInfoJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	const want = "default:ip4=172.16.28.2, lan" // rkt 1.30's ", " separator

	r := e.rkt(t, "", "list", "--no-legend")
	if r.code != 0 || !strings.HasSuffix(strings.TrimSpace(r.stdout), "\t"+want) && !strings.HasSuffix(strings.TrimSpace(r.stdout), "  "+want) {
		t.Errorf("list: %d %q, want the row to end in the NETWORKS column %q", r.code, r.stdout, want)
	}
	r = e.rkt(t, "", "status", ex.UUID)
	if m := statusMap(t, r.stdout); m["networks"] != want {
		t.Errorf("status networks=%q, want %q\n%s", m["networks"], want, r.stdout)
	}

	r = e.rkt(t, "", "status", "--format=json", ex.UUID)
	var p v1.Pod
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("status --format=json: %v\n%s", err, r.stdout)
	}
	wantNets := []v1.NetInfo{{NetName: "default", IfName: "eth0", IP: "172.16.28.2", Mask: "255.255.255.0"}, {NetName: "lan", IfName: "eth1", Args: "IP=10.1.1.9"}}
	if len(p.Networks) != 2 || p.Networks[0] != wantNets[0] || p.Networks[1] != wantNets[1] {
		t.Errorf("status JSON networks = %+v, want %+v", p.Networks, wantNets)
	}
	if !strings.Contains(r.stdout, `"networks":[{"netName":"default","netConf":"","pluginPath":"","ifName":"eth0","ip":"172.16.28.2","args":"","mask":"255.255.255.0"}`) {
		t.Errorf("status JSON keys are not rkt's: %s", r.stdout)
	}
	r = e.rkt(t, "", "list", "--format=json")
	var pods []v1.Pod
	if err := json.Unmarshal([]byte(r.stdout), &pods); err != nil || len(pods) != 1 || len(pods[0].Networks) != 2 {
		t.Errorf("list JSON networks: %v %s", err, r.stdout)
	}
}

// TestPodJSONIsRkt130Shape decodes list and status JSON with rkt 1.30's
// api/v1 structs: no key they lack, the keys rkt always wrote, each app's
// state and exit code, pod times in seconds and app times in nanoseconds.
func TestPodJSONIsRkt130Shape(t *testing.T) {
	e := newEnv(t)
	ex := exitedPod(t, e, map[string]int{"web": 3}, "web")
	if err := os.WriteFile(filepath.Join(ex.Path, podlayout.NetInfoFile), []byte(netInfoJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.rkt(t, "", "status", "--format=json", ex.UUID)
	var p rkt130Pod
	decodeStrict(t, r.stdout, &p)
	var raw map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
		t.Fatal(err)
	}
	assertKeys(t, "pod", raw, rkt130PodKeys)
	if nets, _ := raw["networks"].([]any); len(nets) == 2 {
		assertKeys(t, "network", nets[1].(map[string]any), rkt130NetKeys)
	} else {
		t.Errorf("networks %v, want 2", raw["networks"])
	}
	if p.UUID != ex.UUID || p.State != "exited" || len(p.AppNames) != 1 || p.AppNames[0] != "web" {
		t.Errorf("pod %+v", p)
	}
	if p.CreatedAt == nil || *p.CreatedAt < 1e9 || *p.CreatedAt > 1e11 {
		t.Errorf("pod created_at %v, want Unix seconds", p.CreatedAt)
	}
	if len(p.Apps) != 1 {
		t.Fatalf("apps %+v, want one", p.Apps)
	}
	apps, _ := raw["apps"].([]any)
	assertKeys(t, "app", apps[0].(map[string]any), rkt130AppKeys)
	a := p.Apps[0]
	if a.Name != "web" || a.State != "exited" || a.ExitCode == nil || *a.ExitCode != 3 || !strings.HasPrefix(a.ImageID, "sha512-") {
		t.Errorf("app %+v, want web, exited with code 3, and its image ID", a)
	}
	if a.CreatedAt == nil || *a.CreatedAt < 1e18 {
		t.Errorf("app created_at %v, want Unix nanoseconds", a.CreatedAt)
	}

	r = e.rkt(t, "", "list", "--format=json")
	var pods []rkt130Pod
	decodeStrict(t, r.stdout, &pods)
	if len(pods) != 1 || len(pods[0].Apps) != 1 || pods[0].Apps[0].State != "exited" {
		t.Errorf("list JSON %s: want the pod with its exited app", r.stdout)
	}
}
