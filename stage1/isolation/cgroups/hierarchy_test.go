package cgroups

import (
	"errors"
	"reflect"
	"testing"
)

const hybridMountinfo = `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

const hybridSelf = `9:name=systemd:/
8:pids:/
5:devices:/
4:memory:/process_api/d4d2
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/user.slice
`

func TestParseHierarchyHybrid(t *testing.T) {
	h, err := parseHierarchy([]byte(hybridMountinfo), []byte(hybridSelf))
	if err != nil {
		t.Fatal(err)
	}
	if h.Mode() != Hybrid {
		t.Fatalf("mode = %v, want hybrid", h.Mode())
	}
	got := h.Self().Dirs()
	want := map[string]string{
		UnifiedKey: "/sys/fs/cgroup/unified/user.slice",
		"cpu":      "/sys/fs/cgroup/cpu",
		"cpuacct":  "/sys/fs/cgroup/cpuacct",
		"memory":   "/sys/fs/cgroup/memory/process_api/d4d2",
		"devices":  "/sys/fs/cgroup/devices",
		"pids":     "/sys/fs/cgroup/pids",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Self dirs:\n got %v\nwant %v", got, want)
	}
	pod, err := CreatePodName(h.Self(), "0a1b")
	if err != nil {
		t.Fatal(err)
	}
	app, err := pod.Child("web")
	if err != nil {
		t.Fatal(err)
	}
	if d := app.Dirs()["memory"]; d != "/sys/fs/cgroup/memory/process_api/d4d2/rkt-0a1b/web" {
		t.Errorf("app memory dir = %s", d)
	}
	if p := app.Path(UnifiedKey); p != "/user.slice/rkt-0a1b/web" {
		t.Errorf("app unified path = %s", p)
	}
	m, err := h.At("/machine.slice")
	if err != nil {
		t.Fatal(err)
	}
	if d := m.Dirs()["memory"]; d != "/sys/fs/cgroup/memory/machine.slice" {
		t.Errorf("At memory dir = %s", d)
	}
}

// CreatePodName is the path math of CreatePod without touching cgroupfs.
func CreatePodName(parent *Cgroup, uuid string) (*Cgroup, error) {
	return parent.Child(PodName(uuid))
}

func TestParseHierarchyUnifiedInContainer(t *testing.T) {
	// A cgroup namespace's view: the mount root is the container's cgroup,
	// and the path in /proc/self/cgroup is relative to it.
	mi := `100 90 0:40 /machine.slice/rkt-x /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate
101 90 0:41 / /mnt/with\040space rw - cgroup2 cgroup2 rw
`
	self := "0::/machine.slice/rkt-x/_stage1\n"
	h, err := parseHierarchy([]byte(mi), []byte(self))
	if err != nil {
		t.Fatal(err)
	}
	if h.Mode() != Unified {
		t.Fatalf("mode = %v", h.Mode())
	}
	if d := h.Self().Dirs()[UnifiedKey]; d != "/sys/fs/cgroup/_stage1" {
		t.Fatalf("self dir = %s", d)
	}
	if _, err := h.At("/other"); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("At outside the mount root: %v", err)
	}
}

func TestParseHierarchyLegacyComounted(t *testing.T) {
	mi := `31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
`
	self := "2:cpuacct,cpu:/a\n1:memory:/b\n"
	h, err := parseHierarchy([]byte(mi), []byte(self))
	if err != nil {
		t.Fatal(err)
	}
	if h.Mode() != Legacy {
		t.Fatalf("mode = %v", h.Mode())
	}
	want := map[string]string{"cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct/a", "memory": "/sys/fs/cgroup/memory/b"}
	if got := h.Self().Dirs(); !reflect.DeepEqual(got, want) {
		t.Fatalf("dirs %v, want %v", got, want)
	}
	sets, err := h.settings(Resources{CPUMilli: 1500, CPUShares: 512})
	if err != nil {
		t.Fatal(err)
	}
	wantSets := []setting{
		{"cpu,cpuacct", "cpu", "cpu.cfs_period_us", "100000", nil},
		{"cpu,cpuacct", "cpu", "cpu.cfs_quota_us", "150000", nil},
		{"cpu,cpuacct", "cpu", "cpu.shares", "512", nil},
	}
	if !reflect.DeepEqual(sets, wantSets) {
		t.Fatalf("settings %v, want %v", sets, wantSets)
	}
	if _, err := h.settings(Resources{PidsLimit: 5}); !errors.Is(err, ErrControllerMissing) {
		t.Fatalf("pids without a pids hierarchy: %v", err)
	}
}

func TestParseHierarchyNone(t *testing.T) {
	if _, err := parseHierarchy([]byte("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"), nil); !errors.Is(err, ErrNoCgroups) {
		t.Fatalf("err = %v", err)
	}
}

func TestConversions(t *testing.T) {
	for _, c := range []struct{ milli, quota int64 }{{1000, 100000}, {250, 25000}, {2500, 250000}, {5, 1000}} {
		if q := CPUQuota(c.milli); q != c.quota {
			t.Errorf("CPUQuota(%d) = %d, want %d", c.milli, q, c.quota)
		}
	}
	for _, c := range []struct{ shares, weight uint64 }{{2, 1}, {262144, 10000}, {1024, 39}, {1, 1}, {1 << 20, 10000}} {
		if w := SharesToWeight(c.shares); w != c.weight {
			t.Errorf("SharesToWeight(%d) = %d, want %d", c.shares, w, c.weight)
		}
	}
}

func TestSettingsUnifiedAndHybrid(t *testing.T) {
	res := Resources{MemoryLimit: 64 << 20, CPUMilli: 500, CPUShares: 2048, PidsLimit: 100}
	uni, err := parseHierarchy([]byte("1 0 0:1 / /cg rw - cgroup2 cgroup2 rw\n"), []byte("0::/\n"))
	if err != nil {
		t.Fatal(err)
	}
	sets, err := uni.settings(res)
	if err != nil {
		t.Fatal(err)
	}
	want := []setting{
		{UnifiedKey, "memory", "memory.max", "67108864", nil},
		{UnifiedKey, "cpu", "cpu.max", "50000 100000", nil},
		{UnifiedKey, "cpu", "cpu.weight", "79", nil},
		{UnifiedKey, "pids", "pids.max", "100", nil},
	}
	if !reflect.DeepEqual(sets, want) {
		t.Fatalf("unified settings\n got %v\nwant %v", sets, want)
	}
	sets, err = uni.settings(Resources{Devices: DefaultDevices})
	if err != nil || len(sets) != 1 || sets[0].file != "" || len(sets[0].devices) != len(DefaultDevices) {
		t.Fatalf("devices on v2: %+v %v, want one device filter", sets, err)
	}

	hyb, err := parseHierarchy([]byte(hybridMountinfo), []byte(hybridSelf))
	if err != nil {
		t.Fatal(err)
	}
	res.Devices = []Device{{Type: 'c', Major: 1, Minor: 3, Access: "rw"}}
	sets, err = hyb.settings(res)
	if err != nil {
		t.Fatal(err)
	}
	want = []setting{
		{"memory", "memory", "memory.limit_in_bytes", "67108864", nil},
		{"cpu", "cpu", "cpu.cfs_period_us", "100000", nil},
		{"cpu", "cpu", "cpu.cfs_quota_us", "50000", nil},
		{"cpu", "cpu", "cpu.shares", "2048", nil},
		{"pids", "pids", "pids.max", "100", nil},
		{"devices", "devices", "devices.deny", "a", nil},
		{"devices", "devices", "devices.allow", "c 1:3 rw", nil},
	}
	if !reflect.DeepEqual(sets, want) {
		t.Fatalf("hybrid settings\n got %v\nwant %v", sets, want)
	}
	for _, bad := range []Resources{
		{CPUShares: 1}, {MemoryLimit: -1}, {Devices: []Device{{Type: 'x', Access: "r"}}},
		{Devices: []Device{{Type: 'c', Major: 1, Minor: 3, Access: "rwx"}}},
	} {
		if _, err := hyb.settings(bad); !errors.Is(err, ErrInvalidResources) {
			t.Errorf("settings(%+v) = %v, want ErrInvalidResources", bad, err)
		}
	}
}

func TestDeviceString(t *testing.T) {
	for d, want := range map[Device]string{
		{Type: 'c', Major: 136, Minor: Any, Access: "rwm"}: "c 136:* rwm",
		{Type: 'b', Major: Any, Minor: Any, Access: "m"}:   "b *:* m",
		{Type: 'a', Access: "rwm"}:                         "a *:* rwm",
	} {
		if got := d.String(); got != want {
			t.Errorf("%#v: %q, want %q", d, got, want)
		}
	}
}

func TestChildNames(t *testing.T) {
	h, err := parseHierarchy([]byte(hybridMountinfo), []byte(hybridSelf))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", ".", "..", "a/b", "cgroup.procs", "memory.max", "x\n"} {
		if _, err := h.Self().Child(bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Child(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
	for _, good := range []string{"web", Stage1Leaf, "rkt-0a1b", "a.b"} {
		if _, err := h.Self().Child(good); err != nil {
			t.Errorf("Child(%q): %v", good, err)
		}
	}
}
