package tests

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rkt/rkt/stage1/isolation/cgroups"
	"github.com/rkt/rkt/stage1/network"
)

// TestNetHundredPodsLeaveNothing runs 100 pods on the default network in
// a host of its own, garbage-collecting as it goes, then checks that
// nothing of them is left: no network namespace (file or mount), no veth
// or other link in the host, no IPAM lease, no iptables rule or chain
// beyond the shared masquerade set that the first pod installs, no
// cgroup, no mount, no pod directory.
func TestNetHundredPodsLeaveNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping 100 pods in -short mode")
	}
	h := newNetHost(t)
	pe := newPodEnv(t)
	img := pe.busyboxImage("true", []string{"/bin/true"}, nil)
	pe.ok("fetch", img)
	name := pe.name("true")
	linksBefore := links(t, h.name)

	var uuids []string
	var rulesAfterFirst []string
	for i := range 100 {
		f := filepath.Join(pe.base, fmt.Sprintf("uuid-%d", i))
		if _, stderr, code := h.run(pe, "--uuid-file-save="+f, "--net=default", name); code != 0 {
			t.Fatalf("pod %d: rkt run exited %d\n%s", i, code, stderr)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		uuids = append(uuids, strings.TrimSpace(string(b)))
		if i == 0 || i%10 == 9 {
			h.gc(pe)
			if ds := pe.podDirs(); len(ds) != 0 {
				t.Fatalf("after pod %d and gc, pod dirs remain: %v", i, ds)
			}
		}
		if i == 0 {
			rulesAfterFirst = iptablesIn(t, h.path)
		}
	}
	pe.assertClean("after 100 pods on the default network and gc")

	if got := links(t, h.name); !slices.Equal(got, linksBefore) {
		t.Errorf("links in the host: %v, want only %v", got, linksBefore)
	}
	rules := iptablesIn(t, h.path)
	if !slices.Equal(rules, rulesAfterFirst) {
		t.Errorf("iptables in the host after 100 pods:\n%s\nafter the first pod and gc:\n%s",
			strings.Join(rules, "\n"), strings.Join(rulesAfterFirst, "\n"))
	}
	for _, l := range rules {
		if strings.Contains(l, "CNI-") || strings.Contains(l, "DNAT") {
			t.Errorf("iptables rule left behind: %s", l)
		}
	}

	mountinfo, _ := os.ReadFile("/proc/self/mountinfo")
	var leases []string
	filepath.WalkDir("/var/lib/cni/networks", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := os.ReadFile(p); err == nil {
				for _, u := range uuids {
					if bytes.Contains(b, []byte(u)) {
						leases = append(leases, p)
					}
				}
			}
		}
		return nil
	})
	if len(leases) != 0 {
		t.Errorf("IPAM leases of the pods left: %v", leases)
	}
	var cgs []string
	for _, u := range uuids {
		ns := network.NetNSPath(u)
		if exists(ns) {
			t.Errorf("network namespace file %s left", ns)
		}
		if bytes.Contains(mountinfo, []byte(" "+ns+" ")) {
			t.Errorf("network namespace %s still mounted", ns)
		}
		for _, d := range podCgroupDirs(u) {
			if exists(d) {
				cgs = append(cgs, d)
			}
		}
	}
	if len(cgs) != 0 {
		t.Errorf("pod cgroups left: %v", cgs)
	}
}

// podCgroupDirs lists where pod uuid's cgroup would be in every hierarchy
// the test process is in (the stage1 makes it below the cgroup of whoever
// runs rkt).
func podCgroupDirs(uuid string) []string {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil
	}
	var dirs []string
	for _, l := range outputLines(string(b)) {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 {
			continue
		}
		var roots []string
		if f[1] == "" {
			roots = []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}
		} else {
			ctrls := strings.Split(strings.TrimPrefix(f[1], "name="), ",")
			roots = []string{filepath.Join("/sys/fs/cgroup", ctrls[0]), filepath.Join("/sys/fs/cgroup", strings.Join(ctrls, ","))}
		}
		for _, r := range roots {
			dirs = append(dirs, filepath.Join(r, f[2], cgroups.PodName(uuid)))
		}
	}
	return dirs
}
