package cgroups

import (
	"bufio"
	"bytes"
	"fmt"
	"github.com/rkt/rkt/common/mountinfo"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Mode is the cgroup layout of a host, as the calling process sees it.
type Mode int

const (
	// Unified: only the cgroup v2 hierarchy is mounted.
	Unified Mode = iota + 1
	// Legacy: only cgroup v1 controller hierarchies are mounted.
	Legacy
	// Hybrid: v1 controller hierarchies carry the controllers, and a cgroup
	// v2 hierarchy without controllers is mounted beside them (usually at
	// /sys/fs/cgroup/unified) for process tracking.
	Hybrid
)

func (m Mode) String() string {
	switch m {
	case Unified:
		return "unified"
	case Legacy:
		return "legacy"
	case Hybrid:
		return "hybrid"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// UnifiedKey names the cgroup v2 hierarchy in Cgroup.Dirs.
const UnifiedKey = "unified"

// managedV1 are the v1 controllers whose hierarchies a pod's cgroups are
// created in. cpuset is left out (a new cpuset cgroup is unusable until its
// cpus and mems are filled in, and no isolator uses it), and so are named
// hierarchies such as name=systemd, which belong to the host's init.
var managedV1 = map[string]bool{
	"cpu": true, "cpuacct": true, "memory": true, "devices": true,
	"pids": true, "freezer": true, "blkio": true,
}

// knownV1 are the controller names the kernel may list in a v1 mount's
// super options; everything else there (rw, xattr, name=...) is not one.
var knownV1 = map[string]bool{
	"cpu": true, "cpuacct": true, "cpuset": true, "memory": true, "devices": true,
	"freezer": true, "net_cls": true, "net_prio": true, "blkio": true,
	"perf_event": true, "hugetlb": true, "pids": true, "rdma": true, "misc": true,
}

// mount is one mounted hierarchy.
type mount struct {
	key         string   // UnifiedKey, or the v1 controllers joined by "," in sorted order
	controllers []string // v1 only
	point       string   // mount point
	root        string   // the cgroup path mounted there (not "/" inside a cgroup namespace or a bind mount)
}

// Hierarchy is the set of mounted cgroup hierarchies and the calling
// process's place in each. It is read once by Discover; a Hierarchy is
// immutable and safe for concurrent use.
type Hierarchy struct {
	mode   Mode
	mounts []mount           // managed hierarchies only, unified first
	self   map[string]string // key -> cgroup path of the calling process
}

// Mode reports the layout found.
func (h *Hierarchy) Mode() Mode { return h.mode }

// Discover reads /proc/self/mountinfo and /proc/self/cgroup.
func Discover() (*Hierarchy, error) {
	mi, err := os.ReadFile(mountinfo.Path)
	if err != nil {
		return nil, fmt.Errorf("discovering cgroup hierarchies: %w", err)
	}
	cg, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("discovering cgroup hierarchies: %w", err)
	}
	return parseHierarchy(mi, cg)
}

// parseHierarchy builds a Hierarchy from the text of a mountinfo and a
// /proc/<pid>/cgroup file. Where a hierarchy is mounted more than once, the
// first mount that contains the process's cgroup wins.
func parseHierarchy(table, procCgroup []byte) (*Hierarchy, error) {
	self := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(procCgroup))
	for sc.Scan() {
		// hierarchy-ID:controller-list:cgroup-path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			self[UnifiedKey] = parts[2]
			continue
		}
		var ctrls []string
		for _, c := range strings.Split(parts[1], ",") {
			if knownV1[c] {
				ctrls = append(ctrls, c)
			}
		}
		if len(ctrls) > 0 {
			sort.Strings(ctrls)
			self[strings.Join(ctrls, ",")] = parts[2]
		}
	}

	h := &Hierarchy{self: self}
	seen := map[string]bool{}
	var haveV1, haveV2 bool
	sc = bufio.NewScanner(bytes.NewReader(table))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || len(fields) < sep+4 {
			continue
		}
		fstype, superOpts := fields[sep+1], fields[sep+3]
		m := mount{root: mountinfo.Unescape(fields[3]), point: mountinfo.Unescape(fields[4])}
		switch fstype {
		case "cgroup2":
			m.key = UnifiedKey
		case "cgroup":
			for _, o := range strings.Split(superOpts, ",") {
				if knownV1[o] {
					m.controllers = append(m.controllers, o)
				}
			}
			if len(m.controllers) == 0 {
				continue // a named hierarchy
			}
			haveV1 = true
			sort.Strings(m.controllers)
			m.key = strings.Join(m.controllers, ",")
		default:
			continue
		}
		if m.key == UnifiedKey {
			haveV2 = true
		}
		if seen[m.key] {
			continue
		}
		p, ok := self[m.key]
		if !ok || !within(p, m.root) {
			continue // not our view of this hierarchy
		}
		if m.key != UnifiedKey {
			managed := false
			for _, c := range m.controllers {
				managed = managed || managedV1[c]
			}
			if !managed {
				continue
			}
		}
		seen[m.key] = true
		h.mounts = append(h.mounts, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	switch {
	case haveV1 && haveV2:
		h.mode = Hybrid
	case haveV1:
		h.mode = Legacy
	case haveV2:
		h.mode = Unified
	default:
		return nil, ErrNoCgroups
	}
	sort.SliceStable(h.mounts, func(i, j int) bool {
		return h.mounts[i].key == UnifiedKey && h.mounts[j].key != UnifiedKey
	})
	return h, nil
}

// within reports whether cgroup path p is root or below it.
func within(p, root string) bool {
	p, root = path.Clean(p), path.Clean(root)
	return root == "/" || p == root || strings.HasPrefix(p, root+"/")
}

// dirOf returns the directory in m of cgroup path p (absolute, as the
// process sees it in /proc/self/cgroup).
func (m mount) dirOf(p string) string {
	rel := strings.TrimPrefix(path.Clean(p), path.Clean(m.root))
	return filepath.Join(m.point, rel)
}

// limitMount returns the hierarchy that carries controller c ("memory",
// "cpu", "devices", "pids"), or false when none does. On a unified host
// that is the v2 hierarchy whenever the controller is available in it;
// on legacy and hybrid hosts, the v1 hierarchy of the controller.
func (h *Hierarchy) limitMount(c string) (mount, bool) {
	for _, m := range h.mounts {
		if h.mode == Unified && m.key == UnifiedKey {
			return m, true
		}
		for _, mc := range m.controllers {
			if mc == c {
				return m, true
			}
		}
	}
	return mount{}, false
}
