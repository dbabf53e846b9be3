package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/appc/spec/schema/types"
	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage1/appexec"
	"github.com/rkt/rkt/stage1/isolation/caps"
	"github.com/rkt/rkt/stage1/isolation/cgroups"
	"github.com/rkt/rkt/stage1/isolation/seccomp"
)

// Insecure options of the runtime config that turn a default off.
const (
	insecureCaps    = "capabilities"
	insecurePaths   = "paths"
	insecureSeccomp = "seccomp"
)

// confinement is how every process of one app is confined: what the exec
// stub applies before execve, and what /rkt/isolation/<app>.json records
// for enter (with Path and Args empty). Its JSON is caps.ExecSpec's fields
// plus App, CgroupKeys and OOMScoreAdj (Documentation/devel/architecture.md).
type confinement struct {
	caps.ExecSpec
	App string
	// CgroupKeys are the hierarchies (directory names under /rkt/cgroup)
	// in which the app has a cgroup, /rkt/cgroup/<key>/<app>.
	CgroupKeys  []string `json:",omitempty"`
	OOMScoreAdj *int     `json:",omitempty"`
	// ListenFDs sockets follow the stub's status pipe (fd 5 on); the stub
	// moves them to fd 3 on for the app (socket activation).
	ListenFDs int `json:",omitempty"`
	// filterAllowsRuntime: the seccomp filter, if any, allows every
	// syscall in caps.RuntimeSyscalls (see spawn.go).
	filterAllowsRuntime bool
}

// notApplied is one isolator, or part of one, that the supervisor cannot
// apply; it is printed before the app starts.
type notApplied struct {
	App, Name, Reason string
}

func (n notApplied) String() string {
	return fmt.Sprintf("%s: isolator %s not applied: %s", n.App, n.Name, n.Reason)
}

// filterCache compiles each seccomp profile once per supervisor: apps and
// handlers with the same profile share one program.
type filterCache struct {
	mu    sync.Mutex
	progs map[string]compiledFilter
}

type compiledFilter struct {
	prog []unix.SockFilter
	// allowsRuntime: the profile allows every syscall in
	// caps.RuntimeSyscalls.
	allowsRuntime bool
}

func (c *filterCache) load(p seccomp.Profile) (compiledFilter, error) {
	key := p.Key()
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.progs[key]; ok {
		return f, nil
	}
	prog, allowed, err := seccomp.CompileAllowed(p)
	if err != nil {
		return compiledFilter{}, err
	}
	f := compiledFilter{prog: prog, allowsRuntime: true}
	for _, n := range caps.RuntimeSyscalls {
		if _, ok := slices.BinarySearch(allowed, n); !ok {
			f.allowsRuntime = false
			break
		}
	}
	if c.progs == nil {
		c.progs = map[string]compiledFilter{}
	}
	c.progs[key] = f
	return f, nil
}

// appPolicy is what the isolators and the insecure options ask for one
// app, before it is turned into the confinement of a given identity.
type appPolicy struct {
	caps      caps.Set // already limited to what the pod can give
	nnp       bool
	profile   *seccomp.Profile // nil: no filter (--insecure-options=seccomp)
	cgroups   []string         // keys of /rkt/cgroup/<key>/<app>
	oom       *int
	notes     []notApplied
	pathsOpen bool // --insecure-options=paths
}

// policy works out an app's capabilities, seccomp profile, no_new_privs,
// cgroups and oom_score_adj from its isolators (spec.Isolators, parsed
// from the image's app with the pod manifest's app over it) and the
// runtime config's insecure options. Everything it cannot apply is in
// notes; an isolator that cannot even be read is an error, which fails the
// app: it never runs less confined than it asked.
func policy(root string, spec appSpec, rc *podlayout.RuntimeConfig, uid uint32) (*appPolicy, error) {
	iso := spec.Isolators
	p := &appPolicy{nnp: iso.NoNewPrivileges, oom: iso.OOMScoreAdj}
	note := func(name, reason string) {
		p.notes = append(p.notes, notApplied{App: spec.Name, Name: name, Reason: reason})
	}
	for _, u := range spec.Unsupported {
		note(u.Name, u.Reason)
	}
	insecure := func(opt string) bool { return slices.Contains(rc.InsecureOptions, opt) }
	p.pathsOpen = insecure(insecurePaths)

	var want caps.Set
	capsName := ""
	switch {
	case insecure(insecureCaps):
		want = caps.All
	case iso.CapsRetain != nil:
		capsName = string(types.LinuxCapabilitiesRetainSetName)
		set, err := caps.Parse(iso.CapsRetain)
		if err != nil {
			return nil, fmt.Errorf("reading isolator %s: %w", capsName, err)
		}
		want = set
	case iso.CapsRemove != nil:
		capsName = string(types.LinuxCapabilitiesRevokeSetName)
		set, err := caps.Parse(iso.CapsRemove)
		if err != nil {
			return nil, fmt.Errorf("reading isolator %s: %w", capsName, err)
		}
		want = caps.Default &^ set
	default:
		want = caps.Default
	}
	missing, err := caps.Unavailable(want)
	if err != nil {
		return nil, err
	}
	p.caps = want &^ missing
	if missing != 0 && capsName == string(types.LinuxCapabilitiesRetainSetName) {
		note(capsName, fmt.Sprintf("%s outside the pod's bounding set", strings.Join(missing.Names(), ", ")))
	}

	if !insecure(insecureSeccomp) {
		prof := seccomp.Profile{Mode: seccomp.ModeDefault}
		switch {
		case iso.SeccompRetain != nil:
			prof = seccomp.Profile{Mode: seccomp.ModeRetain, Syscalls: iso.SeccompRetain.Syscalls, Errno: iso.SeccompRetain.Errno}
		case iso.SeccompRemove != nil:
			prof = seccomp.Profile{Mode: seccomp.ModeRemove, Syscalls: iso.SeccompRemove.Syscalls, Errno: iso.SeccompRemove.Errno}
		}
		if err := prof.Validate(); err != nil {
			return nil, fmt.Errorf("reading the seccomp isolator: %w", err)
		}
		if prof.Mode == seccomp.ModeRetain {
			// What the baseline denies depends on the capabilities the
			// app keeps; the app itself (not its handlers) counts here.
			q := prof
			if uid == 0 {
				q.Caps = uint64(p.caps)
			}
			denied, err := seccomp.BaselineDenied(q)
			if err != nil {
				return nil, fmt.Errorf("reading the seccomp isolator: %w", err)
			}
			if len(denied) > 0 {
				note(string(types.LinuxSeccompRetainSetName),
					"the baseline filter every app runs under denies "+strings.Join(denied, ", "))
			}
		}
		p.profile = &prof
	}

	p.cgroups = appCgroupKeys(root, spec.Name)
	for _, l := range []struct {
		set        bool
		name       string
		v1, v2     string
		controller string
	}{
		{iso.MemoryLimit > 0, string(types.ResourceMemoryName), "memory.limit_in_bytes", "memory.max", "memory"},
		{iso.CPUMilli > 0, string(types.ResourceCPUName), "cpu.cfs_quota_us", "cpu.max", "cpu"},
		{iso.CPUShares > 0, string(types.LinuxCPUSharesName), "cpu.shares", "cpu.weight", "cpu"},
	} {
		if l.set && !hasControl(root, spec.Name, p.cgroups, l.v1, l.v2) {
			note(l.name, "the app has no cgroup with the "+l.controller+" controller under "+podlayout.InPodCgroupDir)
		}
	}
	return p, nil
}

// appCgroupKeys lists the hierarchies under /rkt/cgroup in which the app
// has a cgroup (made, with its limits, on the host by the nspawn /init).
func appCgroupKeys(root, app string) []string {
	ents, err := os.ReadDir(filepath.Join(root, podlayout.InPodCgroupDir))
	if err != nil {
		return nil
	}
	var keys []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		fi, err := os.Stat(filepath.Join(root, podlayout.InPodCgroupDir, e.Name(), app, "cgroup.procs"))
		if err == nil && fi.Mode().IsRegular() {
			keys = append(keys, e.Name())
		}
	}
	return keys
}

// mountAppCgroups binds the app's own cgroup directories, read-only, over
// the pod's /sys/fs/cgroup/<key> in the app's view (/sys/fs/cgroup itself
// for the v2 hierarchy of a unified host): with the cgroup namespace the
// exec stub gives the app, rooted at its cgroup, the app sees its own
// cgroup as "/" and reads its limits where a container's are expected.
// Hierarchies the pod's /sys does not show are left alone.
func mountAppCgroups(stage1, rootfs, app string, keys []string) error {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return fmt.Errorf("opening the app rootfs: %w", err)
	}
	defer root.Close()
	for _, k := range keys {
		target := "/sys/fs/cgroup/" + k
		if k == cgroups.UnifiedKey && len(keys) == 1 {
			target = "/sys/fs/cgroup"
		}
		rel, err := appexec.ResolveInRoot(root, target)
		if err != nil {
			continue
		}
		if fi, err := root.Stat(rel); err != nil || !fi.IsDir() {
			continue
		}
		src := filepath.Join(stage1, podlayout.InPodCgroupDir, k, app)
		if err := appexec.BindInto(root, target, src, false, true); err != nil {
			return fmt.Errorf("mounting the app's cgroup at %s: %w", target, err)
		}
	}
	return nil
}

// hasControl reports whether one of the app's cgroups has a control file
// v1 or v2: its controller is there to carry the limit.
func hasControl(root, app string, keys []string, v1, v2 string) bool {
	for _, k := range keys {
		for _, f := range []string{v1, v2} {
			if _, err := os.Stat(filepath.Join(root, podlayout.InPodCgroupDir, k, app, f)); err == nil {
				return true
			}
		}
	}
	return false
}

// confine is the confinement of one process of the app: identity id,
// working directory dir, environment env.
func (s *Supervisor) confine(spec appSpec, p *appPolicy, id appexec.Identity, dir string, env []string) (*confinement, error) {
	c := &confinement{
		ExecSpec: caps.ExecSpec{
			Env: env, Root: spec.Rootfs, Dir: dir,
			UID: int(id.UID), GID: int(id.GID), Groups: groupsOf(id),
			Caps: p.caps, NoNewPrivileges: p.nnp,
		},
		App: spec.Name, CgroupKeys: p.cgroups, OOMScoreAdj: p.oom,
		filterAllowsRuntime: true,
	}
	if p.profile != nil {
		prof := *p.profile
		if id.UID == 0 {
			prof.Caps = uint64(p.caps)
		}
		f, err := s.filters.load(prof)
		if err != nil {
			return nil, fmt.Errorf("compiling the seccomp filter: %w", err)
		}
		c.Seccomp, c.filterAllowsRuntime = f.prog, f.allowsRuntime
	}
	return c, nil
}

func groupsOf(id appexec.Identity) []int {
	out := make([]int, 0, len(id.Groups))
	for _, g := range id.Groups {
		out = append(out, int(g))
	}
	return out
}

// writeConfinement records how the app runs, for enter, in
// /rkt/isolation/<app>.json (a runtime file: renamed into place, no fsync).
func writeConfinement(root string, c *confinement) error {
	rec := *c
	rec.Path, rec.Args = "", nil
	data, err := json.Marshal(&rec)
	if err != nil {
		return fmt.Errorf("recording the confinement of app %s: %w", c.App, err)
	}
	dir := filepath.Join(root, podlayout.InPodIsolationDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("recording the confinement of app %s: %w", c.App, err)
	}
	if err := atomicfile.ReplaceFile(filepath.Join(dir, c.App+".json"), data, 0o600); err != nil {
		return fmt.Errorf("recording the confinement of app %s: %w", c.App, err)
	}
	return nil
}
