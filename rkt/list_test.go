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
	const want = "default:ip4=172.16.28.2,lan"

	r := e.rkt(t, "", "list", "--no-legend")
	if f := strings.Fields(r.stdout); r.code != 0 || len(f) == 0 || f[len(f)-1] != want {
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
	wantNets := []v1.PodNetwork{{NetName: "default", IfName: "eth0", IP: "172.16.28.2", Mask: "255.255.255.0"}, {NetName: "lan", IfName: "eth1"}}
	if len(p.Networks) != 2 || p.Networks[0] != wantNets[0] || p.Networks[1] != wantNets[1] {
		t.Errorf("status JSON networks = %+v, want %+v", p.Networks, wantNets)
	}
	if !strings.Contains(r.stdout, `"networks":[{"netName":"default","ifName":"eth0","ip":"172.16.28.2","mask":"255.255.255.0"}`) {
		t.Errorf("status JSON keys are not rkt's: %s", r.stdout)
	}
	r = e.rkt(t, "", "list", "--format=json")
	var pods []v1.Pod
	if err := json.Unmarshal([]byte(r.stdout), &pods); err != nil || len(pods) != 1 || len(pods[0].Networks) != 2 {
		t.Errorf("list JSON networks: %v %s", err, r.stdout)
	}
}
