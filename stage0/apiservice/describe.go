package apiservice

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/api/v1alpha"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage0/pod"
	"github.com/rkt/rkt/store"
	"github.com/rkt/rkt/store/index"
)

// podStates maps the pod states to the API's. A pod being collected
// after it ran is "deleting", like one collected before; both garbage
// states are "garbage" (rkt 1.30 did the same).
var podStates = map[pod.State]v1alpha.PodState{
	pod.Embryo:         v1alpha.PodState_POD_STATE_EMBRYO,
	pod.Preparing:      v1alpha.PodState_POD_STATE_PREPARING,
	pod.AbortedPrepare: v1alpha.PodState_POD_STATE_ABORTED_PREPARE,
	pod.Prepared:       v1alpha.PodState_POD_STATE_PREPARED,
	pod.Running:        v1alpha.PodState_POD_STATE_RUNNING,
	pod.Exited:         v1alpha.PodState_POD_STATE_EXITED,
	pod.Deleting:       v1alpha.PodState_POD_STATE_DELETING,
	pod.ExitedDeleting: v1alpha.PodState_POD_STATE_DELETING,
	pod.ExitedGarbage:  v1alpha.PodState_POD_STATE_GARBAGE,
	pod.Garbage:        v1alpha.PodState_POD_STATE_GARBAGE,
}

// describePod is the API's view of p, with its manifest. On an error the
// pod holds what could be read, at least its UUID and state; the error is
// pod.ErrNotFound when the pod was removed meanwhile.
func describePod(p *pod.Pod) (*v1alpha.Pod, error) {
	v := &v1alpha.Pod{Id: p.UUID, Pid: -1, State: podStates[p.State]}
	info, err := p.Info()
	if err != nil {
		return v, fmt.Errorf("reading the status of pod %s: %w", p.UUID, err)
	}
	v.State = podStates[info.State]
	if info.State == pod.Embryo {
		return v, nil // nothing more is written yet
	}
	v.CreatedAt = unixNano(info.Created.UnixNano(), info.Created.IsZero())
	v.StartedAt = unixNano(info.Started.UnixNano(), info.Started.IsZero())
	v.GcMarkedAt = unixNano(info.GCMarked.UnixNano(), info.GCMarked.IsZero())
	if info.Pid > 0 {
		v.Pid = int32(info.Pid)
		v.Cgroup = podCgroup(info.Pid, p)
	}
	for _, n := range info.Networks {
		v.Networks = append(v.Networks, &v1alpha.Network{Name: n.Name, Ipv4: n.IP})
	}
	pm, raw, err := p.Manifest()
	if err != nil {
		if info.State == pod.Preparing || info.State == pod.AbortedPrepare {
			err = nil // the manifest comes at the end of the preparation
		}
		return v, err
	}
	v.Manifest = raw
	v.Annotations = keyValues(pm.Annotations)
	for _, ra := range pm.Apps {
		v.Apps = append(v.Apps, describeApp(ra, info))
	}
	return v, nil
}

func unixNano(n int64, zero bool) int64 {
	if zero {
		return 0
	}
	return n
}

// describeApp is one app of the pod manifest. Its state follows the
// pod's (the apps of a pod start and end with it), its exit code is the
// one the stage1 wrote, and its image is described from the pod manifest,
// which carries the image's name and labels.
func describeApp(ra schema.RuntimeApp, info *pod.Info) *v1alpha.App {
	a := &v1alpha.App{
		Name:        ra.Name.String(),
		ExitCode:    -1,
		Annotations: keyValues(ra.Annotations),
		Image: &v1alpha.Image{
			BaseFormat: appcFormat(),
			Id:         ra.Image.ID.String(),
			Version:    "latest",
		},
	}
	if ra.Image.Name != nil {
		a.Image.Name = ra.Image.Name.String()
	}
	if v, ok := ra.Image.Labels.Get("version"); ok {
		a.Image.Version = v
	}
	switch {
	case info.State == pod.Running:
		a.State = v1alpha.AppState_APP_STATE_RUNNING
	case info.State.AfterRun():
		a.State = v1alpha.AppState_APP_STATE_EXITED
	}
	if code, ok := info.AppExit[a.Name]; ok {
		a.ExitCode = int32(code)
		a.State = v1alpha.AppState_APP_STATE_EXITED
	}
	return a
}

// appcFormat is the format of every stored image: images from Docker
// registries and OCI layouts are stored as ACIs too, and the store does
// not record what they were (rkt 1.30 reported the same).
func appcFormat() *v1alpha.ImageFormat {
	return &v1alpha.ImageFormat{Type: v1alpha.ImageType_IMAGE_TYPE_APPC, Version: schema.AppContainerVersion.String()}
}

func keyValues(as types.Annotations) []*v1alpha.KeyValue {
	out := make([]*v1alpha.KeyValue, 0, len(as))
	for _, a := range as {
		out = append(out, &v1alpha.KeyValue{Key: a.Name.String(), Value: a.Value})
	}
	return out
}

// podCgroup is the cgroup of the pod whose process is pid, as a path
// below the root of the hierarchy systemd names (name=systemd on a v1 or
// hybrid host, the unified one otherwise): the pod's own cgroup,
// rkt-<uuid>, when the stage1 made one (the nspawn flavor records it in
// the pod's cgroup file; see Documentation/isolators.md), else the
// process's (fly). Empty when it cannot be read, and while the pod's
// process has not entered the pod's cgroup yet (the first instants of a
// start).
func podCgroup(pid int, p *pod.Pod) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return ""
	}
	var named, unified string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// hierarchy-ID:controllers:path
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 {
			continue
		}
		switch {
		case f[1] == "name=systemd":
			named = f[2]
		case f[0] == "0" && f[1] == "":
			unified = f[2]
		}
	}
	cg := named
	if cg == "" {
		cg = unified
	}
	own := "/rkt-" + p.UUID
	if i := strings.Index(cg+"/", own+"/"); i >= 0 {
		return cg[:i+len(own)]
	}
	if _, err := os.Stat(filepath.Join(p.Path, podlayout.CgroupFile)); err == nil {
		return "" // the pod has a cgroup, and pid is not in it yet
	}
	return cg
}

// describeImage is the API's view of a stored image, with its manifest.
func describeImage(st *store.Store, row index.Image) (*v1alpha.Image, error) {
	im, raw, err := st.Manifest(row.Key)
	if err != nil {
		return nil, fmt.Errorf("describing image %s: %w", row.Key, err)
	}
	img := &v1alpha.Image{
		BaseFormat:      appcFormat(),
		Id:              row.Key,
		Name:            im.Name.String(),
		Version:         "latest",
		ImportTimestamp: row.ImportTime.Unix(),
		Manifest:        raw,
		Size:            row.Size + row.TreeStoreSize,
		Annotations:     keyValues(im.Annotations),
	}
	if v, ok := im.Labels.Get("version"); ok {
		img.Version = v
	}
	img.Labels = make([]*v1alpha.KeyValue, 0, len(im.Labels))
	for _, l := range im.Labels {
		img.Labels = append(img.Labels, &v1alpha.KeyValue{Key: l.Name.String(), Value: l.Value})
	}
	return img, nil
}
