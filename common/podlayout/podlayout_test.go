package podlayout

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestPaths(t *testing.T) {
	p := "/d/pods/run/u"
	for got, want := range map[string]string{
		Stage1Rootfs(p):          "/d/pods/run/u/stage1/rootfs",
		Stage1Manifest(p):        "/d/pods/run/u/stage1/manifest",
		AppRootfs(p, "a"):        "/d/pods/run/u/stage1/rootfs/opt/stage2/a/rootfs",
		AppImageManifest(p, "a"): "/d/pods/run/u/stage1/rootfs/opt/stage2/a/manifest",
		AppsInfoDir(p, "a"):      "/d/pods/run/u/appsinfo/a",
		AppStatusPath(p, "a"):    "/d/pods/run/u/stage1/rootfs/rkt/status/a",
		AppEnvPath(p, "a"):       "/d/pods/run/u/stage1/rootfs/rkt/env/a",
		SupervisorStatusPath(p):  "/d/pods/run/u/stage1/rootfs/rkt/supervisor-status",
		SharedVolumeDir(p, "v"):  "/d/pods/run/u/sharedVolumes/v",
		VolumeMountPoint(p, "v"): "/d/pods/run/u/stage1/rootfs/rkt/volumes/v",
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

func TestRuntimeConfigRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), RuntimeConfigFile)
	c := &RuntimeConfig{
		UUID: "u", Hostname: "h", Interactive: true, NetList: []string{"host"},
		DNS: []string{"8.8.8.8"}, HostsEntries: map[string][]string{"10.0.0.1": {"a", "b"}},
		SetEnv: map[string]string{"K": "V"}, HostVolumes: map[string]string{"data": "/srv"},
		StopTimeout: 3 * time.Second,
	}
	if err := c.Write(path); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRuntimeConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("got %+v, want %+v", got, c)
	}
	if _, err := ReadRuntimeConfig(filepath.Join(t.TempDir(), "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestAppStatus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app")
	if _, err := ReadAppStatus(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing status: %v", err)
	}
	if err := WriteAppStatus(path, 7); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "7" {
		t.Errorf("file holds %q, want 7", data)
	}
	if code, err := ReadAppStatus(path); err != nil || code != 7 {
		t.Errorf("got %d, %v", code, err)
	}
	os.WriteFile(path, []byte("x\n"), 0o644)
	if _, err := ReadAppStatus(path); err == nil {
		t.Error("garbage status accepted")
	}
}

func TestValidators(t *testing.T) {
	for _, s := range []string{"0b1f39e0-64c0-4a8c-a2b7-0d8d3b1f2a11"} {
		if err := ValidUUID(s); err != nil {
			t.Errorf("ValidUUID(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "0b1f39e0", "0B1F39E0-64C0-4A8C-A2B7-0D8D3B1F2A11", "0b1f39e0-64c0-4a8c-a2b7/0d8d3b1f2a11", "../../../../../../../../../etc/passwd1"} {
		if err := ValidUUID(s); !errors.Is(err, ErrInvalidUUID) {
			t.Errorf("ValidUUID(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"app", "my-app-2"} {
		if err := ValidAppName(s); err != nil {
			t.Errorf("ValidAppName(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", ".", "..", "a/b", "-a", "A", "a_b"} {
		if err := ValidAppName(s); !errors.Is(err, ErrInvalidAppName) {
			t.Errorf("ValidAppName(%q) = %v", s, err)
		}
	}
}
