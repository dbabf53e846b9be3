package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage1/appexec"
	"github.com/rkt/rkt/stage1/isolation/isolators"
)

// AnnotationSupportsNotify marks an app that reports its own readiness with
// sd_notify; the pod is then ready only once the app said READY=1.
const AnnotationSupportsNotify = "appc.io/executor/supports-systemd-notify"

// appSpec is everything the supervisor needs to run one app.
type appSpec struct {
	Name           string
	Rootfs         string    // in the supervisor's view: /opt/stage2/<name>/rootfs
	App            types.App // the image's app with the pod manifest's overrides applied
	ImageEnv       types.Environment
	OverrideEnv    types.Environment
	ReadOnlyRootFS bool
	Volumes        []volumeMount
	Notify         bool
	// Isolators are the image's isolators with the pod manifest's over
	// them; Unsupported lists those this stage1 does not apply.
	Isolators   isolators.Spec
	Unsupported []isolators.Unsupported
	// StopSignal asks the app to stop (podlayout.AnnotationStopSignal; SIGTERM).
	StopSignal syscall.Signal
}

// loadPod reads the pod manifest, the runtime config and every app's image
// manifest under root.
func loadPod(root string) (*schema.PodManifest, *podlayout.RuntimeConfig, []appSpec, error) {
	data, err := os.ReadFile(filepath.Join(root, podlayout.InPodManifest))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading the pod manifest: %w", err)
	}
	var pm schema.PodManifest
	if err := json.Unmarshal(data, &pm); err != nil {
		return nil, nil, nil, fmt.Errorf("reading the pod manifest: %w", err)
	}
	rc, err := podlayout.ReadRuntimeConfig(filepath.Join(root, podlayout.InPodRuntimeConfig))
	if errors.Is(err, os.ErrNotExist) {
		rc, err = &podlayout.RuntimeConfig{}, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	specs := make([]appSpec, 0, len(pm.Apps))
	for i := range pm.Apps {
		ra := &pm.Apps[i]
		spec, err := loadApp(root, &pm, ra)
		if err != nil {
			return nil, nil, nil, err
		}
		specs = append(specs, spec)
	}
	return &pm, rc, specs, nil
}

func loadApp(root string, pm *schema.PodManifest, ra *schema.RuntimeApp) (appSpec, error) {
	name := ra.Name.String()
	if err := podlayout.ValidAppName(name); err != nil {
		return appSpec{}, fmt.Errorf("loading app: %w", err)
	}
	appDir := filepath.Join(root, podlayout.InPodAppsDir, name)
	data, err := os.ReadFile(filepath.Join(appDir, "manifest"))
	if err != nil {
		return appSpec{}, fmt.Errorf("loading app %s: reading its image manifest: %w", name, err)
	}
	var im schema.ImageManifest
	if err := json.Unmarshal(data, &im); err != nil {
		return appSpec{}, fmt.Errorf("loading app %s: reading its image manifest: %w", name, err)
	}
	app, imgEnv, overEnv := appexec.MergeApp(im.App, ra.App)
	podlayout.GroupFromPasswd(&app, ra.Annotations)
	if len(app.Exec) == 0 {
		return appSpec{}, fmt.Errorf("loading app %s: %w", name, ErrNoExec)
	}
	mounts := make([]mountRef, 0, len(ra.Mounts))
	for _, m := range ra.Mounts {
		mounts = append(mounts, mountRef{Volume: m.Volume.String(), Path: m.Path, AppVolume: m.AppVolume})
	}
	vols, err := appVolumes(pm.Volumes, mounts, app.MountPoints)
	if err != nil {
		return appSpec{}, fmt.Errorf("loading app %s: %w", name, err)
	}
	notify := false
	for _, anns := range []types.Annotations{im.Annotations, ra.Annotations} {
		if v, ok := anns.Get(AnnotationSupportsNotify); ok && v == "true" {
			notify = true
		}
	}
	stopSig, err := podlayout.StopSignal(im.Annotations, ra.Annotations)
	if err != nil {
		return appSpec{}, fmt.Errorf("loading app %s: %w", name, err)
	}
	isos, unsupported := isolators.Parse(im.App, ra.App)
	return appSpec{
		StopSignal:     stopSig,
		Isolators:      isos,
		Unsupported:    unsupported,
		Name:           name,
		Rootfs:         filepath.Join(appDir, "rootfs"),
		App:            app,
		ImageEnv:       imgEnv,
		OverrideEnv:    overEnv,
		ReadOnlyRootFS: ra.ReadOnlyRootFS,
		Volumes:        vols,
		Notify:         notify,
	}, nil
}

// handlers returns the exec commands of an app's event handlers of a kind
// ("pre-start", "post-stop"), in manifest order.
func handlers(app types.App, kind string) [][]string {
	var out [][]string
	for _, h := range app.EventHandlers {
		if h.Name == kind && len(h.Exec) > 0 {
			out = append(out, h.Exec)
		}
	}
	return out
}
