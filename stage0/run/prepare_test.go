package run

import (
	"reflect"
	"testing"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage0/insecure"
	"github.com/rkt/rkt/stage0/podspec"
)

func TestRuntimeConfigCompletesThePlan(t *testing.T) {
	plan := &podspec.Plan{IPC: "parent"}
	pm := schema.BlankPodManifest()
	pm.Volumes = []types.Volume{
		{Name: "data", Kind: "host", Source: "/srv/data"},
		{Name: "scratch", Kind: "empty"},
	}
	ports := []podlayout.PortForward{{Name: "http", HostPort: 8080}}
	cfg := &Config{Insecure: insecure.Seccomp | insecure.Image, Debug: true}

	rc := runtimeConfig(cfg, plan, pm, "0a1b2c3d-0000-4000-8000-000000000000", ports)

	if rc.UUID != "0a1b2c3d-0000-4000-8000-000000000000" || rc.Hostname != "rkt-0a1b2c3d-0000-4000-8000-000000000000" {
		t.Errorf("UUID %q, hostname %q: want the pod's UUID and rkt-<uuid>", rc.UUID, rc.Hostname)
	}
	if rc.IPC != "parent" || !rc.Debug || !reflect.DeepEqual(rc.NetList, []string{"default"}) {
		t.Errorf("IPC %q, debug %v, nets %v: want parent, true, [default]", rc.IPC, rc.Debug, rc.NetList)
	}
	if !reflect.DeepEqual(rc.InsecureOptions, []string{"seccomp"}) {
		t.Errorf("insecure options %v: want only the ones stage1 applies, [seccomp]", rc.InsecureOptions)
	}
	if !reflect.DeepEqual(rc.HostVolumes, map[string]string{"data": "/srv/data"}) {
		t.Errorf("host volumes %v: want data only", rc.HostVolumes)
	}
	if !reflect.DeepEqual(rc.Ports, ports) {
		t.Errorf("ports %v: want %v", rc.Ports, ports)
	}
	if plan.Runtime.UUID != "" {
		t.Error("runtimeConfig changed the plan's runtime config")
	}
}

func TestNoOverlayCopies(t *testing.T) {
	plan := &podspec.Plan{NoOverlay: true}
	plan.Runtime.PrivateUsers = "auto"
	var rc podlayout.RuntimeConfig
	if useOverlay(&Config{DataDir: t.TempDir()}, plan, &rc, schema.BlankPodManifest(), nil) {
		t.Error("--no-overlay: want copies")
	}
	if rc.AppLayers != nil {
		t.Errorf("--no-overlay set app layers %v", rc.AppLayers)
	}
}
