package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
	"golang.org/x/sys/unix"

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
	stopSig := syscall.SIGTERM
	for _, anns := range []types.Annotations{im.Annotations, ra.Annotations} {
		if v, ok := anns.Get(podlayout.AnnotationStopSignal); ok {
			if stopSig, err = parseSignal(v); err != nil {
				return appSpec{}, fmt.Errorf("loading app %s: annotation %s: %w", name, podlayout.AnnotationStopSignal, err)
			}
		}
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

// parseSignal reads a signal as OCI images and Docker spell it: a name
// with or without "SIG" ("SIGQUIT", "quit"), "SIGRTMIN+N" or "SIGRTMAX-N"
// (with the C library's SIGRTMIN, 34), or a number.
func parseSignal(s string) (syscall.Signal, error) {
	v := strings.ToUpper(strings.TrimSpace(s))
	if n, err := strconv.Atoi(v); err == nil {
		if n < 1 || n > sigRTMax {
			return 0, fmt.Errorf("%w: %q", ErrBadSignal, s)
		}
		return syscall.Signal(n), nil
	}
	if !strings.HasPrefix(v, "SIG") {
		v = "SIG" + v
	}
	for _, rt := range []struct {
		prefix string
		base   int
		sign   int
	}{{"SIGRTMIN+", sigRTMin, 1}, {"SIGRTMAX-", sigRTMax, -1}} {
		if rest, ok := strings.CutPrefix(v, rt.prefix); ok {
			n, err := strconv.Atoi(rest)
			sig := rt.base + rt.sign*n
			if err != nil || n < 0 || sig < sigRTMin || sig > sigRTMax {
				return 0, fmt.Errorf("%w: %q", ErrBadSignal, s)
			}
			return syscall.Signal(sig), nil
		}
	}
	switch v {
	case "SIGRTMIN":
		return syscall.Signal(sigRTMin), nil
	case "SIGRTMAX":
		return syscall.Signal(sigRTMax), nil
	}
	if sig := unix.SignalNum(v); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrBadSignal, s)
}

// The real-time signals as the C library numbers them (the kernel's
// first two are its own).
const (
	sigRTMin = 34
	sigRTMax = 64
)
