package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage1/isolation/caps"
	"github.com/rkt/rkt/stage1/isolation/cgroups"
	"github.com/rkt/rkt/stage1/isolation/isolators"
)

// podCgroups is what /init made of the pod's cgroups: the pod cgroup, its
// _stage1 leaf (which /init enters just before it execs nspawn) and the
// cgroup /init started in, to go back to when the start is undone.
type podCgroups struct {
	pod    *cgroups.Cgroup
	leaf   *cgroups.Cgroup
	origin *cgroups.Cgroup
	// scope: the pod lives in a transient scope unit of its own
	// (podScope), which nspawn --keep-unit registers as the machine.
	scope bool
}

// rktSlice is where pods' cgroups go on a cgroup v2 host that systemd
// did not boot: a subtree rkt makes below the root, which may hold
// processes and delegate controllers (the root is exempt from cgroup v2's
// no-internal-process rule).
const rktSlice = "/rkt.slice"

// placement is where the pod's cgroup goes.
type placement int

const (
	// inSelf: below the cgroup of the process running the stage1.
	inSelf placement = iota
	// inScope: below a transient scope systemd makes for the pod.
	inScope
	// inRktSlice: below rktSlice.
	inRktSlice
)

// podPlacement says where the pod's cgroup goes, on a host of mode whose
// init is systemd or not, for a caller that is or is not alone in its
// cgroup:
//   - v1 and hybrid hosts: the caller's own cgroup, as ever (the
//     controllers are in v1 hierarchies, which have no no-internal-process
//     rule);
//   - cgroup v2 under systemd, the caller alone in its cgroup (rkt run in
//     the ExecStart= of a unit, which must have Delegate=yes): that cgroup;
//   - cgroup v2 under systemd, otherwise (a shell, a unit running more than
//     rkt): a transient scope with Delegate=yes made over D-Bus, as nspawn
//     makes machine scopes;
//   - cgroup v2 without systemd: rktSlice, below the root.
func podPlacement(mode cgroups.Mode, systemdBooted, alone bool) placement {
	switch {
	case mode != cgroups.Unified:
		return inSelf
	case !systemdBooted:
		return inRktSlice
	case alone:
		return inSelf
	}
	return inScope
}

// systemdBooted reports whether systemd is the host's init (sd_booted(3)).
func systemdBooted() bool {
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// setupCgroups creates the pod's cgroup (see podPlacement), records it
// in <pod>/cgroup for gc (before anything else is made in it, so that gc
// finds a half-made tree too), and creates one child per app with the
// app's resource isolators (its image manifest's, overridden by the pod
// manifest's) and the default device rules. On a cgroup v2 host the
// calling process moves into the pod's _stage1 leaf before the app
// cgroups enable controllers in the parent's and the pod's
// cgroup.subtree_control, which the no-internal-process rule refuses while
// the caller is still in the parent. It returns nspawn's --bind
// flags that show each hierarchy's pod directory at /rkt/cgroup/<key>
// inside the pod, where the supervisor's exec stub finds <key>/<app>.
func setupCgroups(pod, uuid string, apps []podApp) (*podCgroups, []string, error) {
	h, err := cgroups.Discover()
	if err != nil {
		return nil, nil, fmt.Errorf("creating the pod's cgroups: %w", err)
	}
	origin := h.Self()
	alone := false
	booted := systemdBooted()
	if h.Mode() == cgroups.Unified && booted {
		if alone, err = aloneIn(origin.Dirs()[cgroups.UnifiedKey]); err != nil {
			return nil, nil, fmt.Errorf("creating the pod's cgroups: %w", err)
		}
	}
	parent := origin
	where := podPlacement(h.Mode(), booted, alone)
	switch where {
	case inScope:
		if err := startScope(uuid); err != nil {
			return nil, nil, fmt.Errorf("creating the pod's cgroups: %w", err)
		}
		// The process is in the scope now: its cgroup is the parent.
		if h, err = cgroups.Discover(); err != nil {
			return nil, nil, fmt.Errorf("creating the pod's cgroups: %w", err)
		}
		parent = h.Self()
	case inRktSlice:
		if parent, err = h.At(rktSlice); err != nil {
			return nil, nil, fmt.Errorf("creating the pod's cgroups: %w", err)
		}
		if err := parent.Create(cgroups.Resources{}); err != nil {
			return nil, nil, fmt.Errorf("creating the pod's cgroups: %w", err)
		}
	}
	pc, binds, err := makeCgroups(pod, uuid, apps, origin, parent, h.Mode() == cgroups.Unified)
	if err != nil {
		return nil, nil, err
	}
	pc.scope = where == inScope
	return pc, binds, nil
}

// makeCgroups is setupCgroups below parent; the caller starts in origin
// and, with enterFirst, moves into the _stage1 leaf before the app
// cgroups are made.
func makeCgroups(pod, uuid string, apps []podApp, origin, parent *cgroups.Cgroup, enterFirst bool) (_ *podCgroups, binds []string, retErr error) {
	// Recorded before it is made, so that gc finds the tree of a start
	// killed at any instant. The record is written like the other
	// runtime files, by rename without fsync: after a crash of the host
	// the cgroups are gone too. Load reads it.
	name, err := parent.Child(cgroups.PodName(uuid))
	if err != nil {
		return nil, nil, fmt.Errorf("creating the pod's cgroups: %w", err)
	}
	if err := writeRuntimeFile(filepath.Join(pod, podlayout.CgroupFile), []byte(name.Encode())); err != nil {
		return nil, nil, fmt.Errorf("recording the pod's cgroup: %w", err)
	}
	cg, err := cgroups.CreatePod(parent, uuid)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the pod's cgroups: %w", err)
	}
	pc := &podCgroups{pod: cg, origin: origin}
	defer func() {
		if retErr != nil {
			pc.destroy()
		}
	}()
	if pc.leaf, err = cg.Child(cgroups.Stage1Leaf); err != nil {
		return nil, nil, fmt.Errorf("creating the pod's cgroups: %w", err)
	}
	if enterFirst {
		if err := pc.enter(); err != nil {
			return nil, nil, err
		}
	}
	for _, app := range apps {
		res := app.spec.Resources()
		res.Devices = cgroups.WithDefaultDevices()
		child, err := cg.Child(app.name)
		if err != nil {
			return nil, nil, fmt.Errorf("app %q: %w", app.name, err)
		}
		if err := child.Create(res); err != nil {
			if errors.Is(err, cgroups.ErrInternalProcesses) || errors.Is(err, cgroups.ErrControllerMissing) {
				err = fmt.Errorf("%w (on a cgroup v2 host run by systemd, start rkt in a unit with Delegate=yes)", err)
			}
			return nil, nil, fmt.Errorf("app %q: creating its cgroup: %w", app.name, err)
		}
	}
	dirs := cg.Dirs()
	keys := make([]string, 0, len(dirs))
	for k := range dirs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		target := filepath.Join(podlayout.InPodCgroupDir, k)
		if err := os.MkdirAll(filepath.Join(podlayout.Stage1Rootfs(pod), target), 0o755); err != nil {
			return nil, nil, fmt.Errorf("creating the cgroup mount point %s: %w", target, err)
		}
		binds = append(binds, "--bind="+escapeBind(dirs[k])+":"+escapeBind(target))
	}
	return pc, binds, nil
}

// enter moves the calling process (and so the nspawn it becomes) into the
// pod's _stage1 leaf.
func (pc *podCgroups) enter() error {
	if err := pc.leaf.Enter(); err != nil {
		return fmt.Errorf("entering the pod's cgroup: %w", err)
	}
	return nil
}

// destroy undoes setupCgroups after a failed start: back to the cgroup
// /init started in (Destroy kills whatever is in the tree), then the tree
// and its record.
func (pc *podCgroups) destroy() {
	_ = pc.origin.Enter()
	_ = pc.pod.Destroy(context.Background())
}

// podApp is one app of the pod and what its isolators ask for: its image
// manifest's, overridden by the pod manifest's.
type podApp struct {
	name string
	spec isolators.Spec
	isos types.Isolators
}

// loadApps reads the isolators of every app of the pod. What is not
// supported is reported by the supervisor, which reads the same.
func loadApps(pod string, pm *schema.PodManifest) ([]podApp, error) {
	apps := make([]podApp, 0, len(pm.Apps))
	for _, ra := range pm.Apps {
		name := ra.Name.String()
		img, err := readImageManifest(podlayout.AppImageManifest(pod, name))
		if err != nil {
			return nil, fmt.Errorf("app %q: %w", name, err)
		}
		spec, _ := isolators.Parse(img.App, ra.App)
		apps = append(apps, podApp{name: name, spec: spec, isos: isolators.Merge(img.App, ra.App)})
	}
	return apps, nil
}

// capabilityFlag is nspawn's --capability for the capabilities the apps
// keep (their retain sets, or the default set minus their remove sets):
// nspawn's own bounding set lacks some (CAP_NET_ADMIN, CAP_SYS_TIME...),
// and an app can keep only what the supervisor has. "" when no app keeps
// any.
func capabilityFlag(apps []podApp) string {
	var all caps.Set
	for _, app := range apps {
		set, err := caps.FromIsolators(app.isos)
		if err != nil {
			continue // the supervisor refuses the app and says why
		}
		all |= set
	}
	if all == 0 {
		return ""
	}
	return "--capability=" + strings.Join(all.Names(), ",")
}

// readImageManifest reads an app's image manifest as stage0 laid it out.
func readImageManifest(path string) (*schema.ImageManifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the image manifest: %w", err)
	}
	var im schema.ImageManifest
	if err := json.Unmarshal(data, &im); err != nil {
		return nil, fmt.Errorf("reading the image manifest %s: %w", path, err)
	}
	return &im, nil
}
