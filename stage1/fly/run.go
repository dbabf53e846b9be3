package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage1/appexec"
	"github.com/rkt/rkt/stage1/isolation/isolators"
	"github.com/rkt/rkt/stage1/stage1cmd"
)

// defaultPath is rkt's default PATH for apps.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// flyApp is everything run needs about the pod's one app.
type flyApp struct {
	name     string
	rootfs   string
	app      *types.App
	readOnly bool
	mounts   []appMount
	env      []string
	// notApplied lists every isolator the app asks for: fly applies none.
	notApplied []string
}

// appMount binds a host path onto a target inside the app.
type appMount struct {
	src, target         string
	readOnly, recursive bool
}

func runRun(args []string) error {
	ra, pod, err := stage1cmd.ParseRun(args)
	if err != nil {
		return err
	}
	a, err := loadApp(pod)
	if err != nil {
		return fmt.Errorf("starting pod %s: %w", ra.UUID, err)
	}
	for _, line := range a.notApplied {
		fmt.Fprintln(os.Stderr, line)
	}
	// From here on, one OS thread: the mount namespace and the chroot
	// belong to it, and it execs the app.
	runtime.LockOSThread()
	if err := enterMountNS(a); err != nil {
		return fmt.Errorf("starting app %q: %w", a.name, err)
	}
	id, err := resolveUser(a.rootfs, a.app.User, a.app.Group, a.app.SupplementaryGIDs)
	if err != nil {
		return fmt.Errorf("starting app %q: %w", a.name, err)
	}
	// The user's HOME, USER and LOGNAME, unless the app sets them.
	env := []string{"HOME=" + id.Home}
	if id.Name != "" {
		env = append(env, "USER="+id.Name, "LOGNAME="+id.Name)
	}
	env = dedupEnv(append(append(env, a.env...), listenEnv(a.name, a.app)...))
	if err := unix.Setpgid(0, 0); err != nil {
		return fmt.Errorf("starting app %q: making a process group: %w", a.name, err)
	}
	pid := strconv.Itoa(os.Getpid())
	for _, f := range []string{podlayout.PidFile, podlayout.PgidFile} {
		// Runtime files: renamed into place, not fsynced (a crash ends
		// the app, and the pid with it).
		if err := atomicfile.ReplaceFile(filepath.Join(pod, f), []byte(pid), 0o644); err != nil {
			return fmt.Errorf("starting app %q: %w", a.name, err)
		}
	}
	if err := unix.Chroot(a.rootfs); err != nil {
		return fmt.Errorf("starting app %q: chroot: %w", a.name, err)
	}
	wd := a.app.WorkingDirectory
	if wd == "" {
		wd = "/"
	}
	if err := os.Chdir("/"); err != nil {
		return fmt.Errorf("starting app %q: %w", a.name, err)
	}
	exe, err := lookPath(a.app.Exec[0], envValue(env, "PATH"))
	if err != nil {
		return fmt.Errorf("starting app %q: %w", a.name, err)
	}
	if err := setIdentity(id); err != nil {
		return fmt.Errorf("starting app %q: %w", a.name, err)
	}
	if err := os.Chdir(wd); err != nil {
		return fmt.Errorf("starting app %q: working directory: %w", a.name, err)
	}
	if err := unix.Exec(exe, a.app.Exec, env); err != nil {
		return fmt.Errorf("starting app %q: executing %s: %w", a.name, a.app.Exec[0], err)
	}
	return nil
}

// loadApp reads the pod manifest, runtime-config and the app's image
// manifest, and works out the app's command, mounts and environment.
func loadApp(pod string) (*flyApp, error) {
	pm, err := readPodManifest(pod)
	if err != nil {
		return nil, err
	}
	if len(pm.Apps) != 1 {
		return nil, fmt.Errorf("%w: the pod has %d apps", ErrNotOneApp, len(pm.Apps))
	}
	rt := pm.Apps[0]
	name := rt.Name.String()
	if err := podlayout.ValidAppName(name); err != nil {
		return nil, err
	}
	rc, err := podlayout.ReadRuntimeConfig(podlayout.RuntimeConfigPath(pod))
	if errors.Is(err, fs.ErrNotExist) {
		rc = &podlayout.RuntimeConfig{}
	} else if err != nil {
		return nil, err
	}
	var img *types.App
	var imgAnns types.Annotations
	if data, err := os.ReadFile(podlayout.AppImageManifest(pod, name)); err == nil {
		var im schema.ImageManifest
		if err := json.Unmarshal(data, &im); err != nil {
			return nil, fmt.Errorf("reading the image manifest of app %q: %w", name, err)
		}
		img, imgAnns = im.App, im.Annotations
	} else if rt.App == nil {
		return nil, fmt.Errorf("reading the image manifest of app %q: %w", name, err)
	}
	// A stop signal that names no signal fails the start, as in the
	// nspawn stage1, rather than the stop.
	if _, err := podlayout.StopSignal(imgAnns, rt.Annotations); err != nil {
		return nil, fmt.Errorf("app %q: %w", name, err)
	}
	merged, imgEnv, podEnv := appexec.MergeApp(img, rt.App)
	app := &merged
	podlayout.GroupFromPasswd(app, rt.Annotations)
	// The pod's variables after the image's: appEnv keeps the last value.
	app.Environment = append(append(types.Environment(nil), imgEnv...), podEnv...)
	if len(app.Exec) == 0 {
		return nil, fmt.Errorf("app %q: %w", name, ErrNoExec)
	}
	a := &flyApp{name: name, rootfs: podlayout.AppRootfs(pod, name), app: app, readOnly: rt.ReadOnlyRootFS}
	if a.mounts, err = appMounts(pod, pm, rt, app, rc); err != nil {
		return nil, fmt.Errorf("app %q: %w", name, err)
	}
	a.env = appEnv(name, app, rc)
	a.notApplied = notApplied(name, img, rt.App)
	return a, nil
}

// notApplied is one line for the pod's stderr per isolator of the app
// (the image's, with the pod manifest's over them), in the supervisor's
// words: "<app>: isolator <name> not applied: <reason>".
func notApplied(app string, img, pod *types.App) []string {
	spec, unsupported := isolators.Parse(img, pod)
	var out []string
	for _, name := range spec.Applied() {
		out = append(out, fmt.Sprintf("%s: isolator %s not applied: the fly stage1 applies no isolators", app, name))
	}
	for _, u := range unsupported {
		out = append(out, fmt.Sprintf("%s: isolator %s not applied: %s", app, u.Name, u.Reason))
	}
	return out
}

func readPodManifest(pod string) (*schema.PodManifest, error) {
	data, err := os.ReadFile(podlayout.PodManifest(pod))
	if err != nil {
		return nil, fmt.Errorf("reading pod manifest: %w", err)
	}
	var pm schema.PodManifest
	if err := json.Unmarshal(data, &pm); err != nil {
		return nil, fmt.Errorf("reading pod manifest: %w", err)
	}
	return &pm, nil
}

// appStopSignal is the signal that asks the pod's one app to stop
// (podlayout.StopSignal): the pod manifest's annotation, else the image
// manifest's, else SIGTERM.
func appStopSignal(pod string) (unix.Signal, error) {
	pm, err := readPodManifest(pod)
	if err != nil {
		return 0, err
	}
	if len(pm.Apps) != 1 {
		return 0, fmt.Errorf("%w: the pod has %d apps", ErrNotOneApp, len(pm.Apps))
	}
	rt := pm.Apps[0]
	name := rt.Name.String()
	if err := podlayout.ValidAppName(name); err != nil {
		return 0, err
	}
	var imgAnns types.Annotations
	data, err := os.ReadFile(podlayout.AppImageManifest(pod, name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("reading the image manifest of app %q: %w", name, err)
	}
	if err == nil {
		var im schema.ImageManifest
		if err := json.Unmarshal(data, &im); err != nil {
			return 0, fmt.Errorf("reading the image manifest of app %q: %w", name, err)
		}
		imgAnns = im.Annotations
	}
	return podlayout.StopSignal(imgAnns, rt.Annotations)
}

// appEnv is the app's environment: rkt's default PATH, AC_APP_NAME, the
// metadata service URL when registered, the app's own environment, then
// the pod-wide --set-env values, later entries winning.
func appEnv(name string, app *types.App, rc *podlayout.RuntimeConfig) []string {
	env := []string{"PATH=" + defaultPath, "AC_APP_NAME=" + name}
	if rc.MetadataServiceURL != "" {
		env = append(env, "AC_METADATA_URL="+rc.MetadataServiceURL)
	}
	for _, kv := range app.Environment {
		env = append(env, kv.Name+"="+kv.Value)
	}
	keys := make([]string, 0, len(rc.SetEnv))
	for k := range rc.SetEnv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+rc.SetEnv[k])
	}
	return dedupEnv(env)
}

// dedupEnv keeps the last value of every name, in first-seen order.
func dedupEnv(env []string) []string {
	last := map[string]string{}
	var order []string
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, seen := last[k]; !seen {
			order = append(order, k)
		}
		last[k] = v
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+last[k])
	}
	return out
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// appMounts matches the app's mounts (the pod manifest's, else its image's
// mount points by name) with the pod's volumes.
func appMounts(pod string, pm *schema.PodManifest, rt schema.RuntimeApp, app *types.App, rc *podlayout.RuntimeConfig) ([]appMount, error) {
	vols := map[string]types.Volume{}
	for _, v := range pm.Volumes {
		vols[v.Name.String()] = v
	}
	type ref struct {
		volume, target string
		appVol         *types.Volume
		readOnly       bool
	}
	var refs []ref
	seen := map[string]bool{}
	for _, m := range rt.Mounts {
		refs = append(refs, ref{volume: m.Volume.String(), target: m.Path, appVol: m.AppVolume})
		seen[m.Path] = true
	}
	if app != nil {
		for _, mp := range app.MountPoints {
			if seen[mp.Path] {
				continue
			}
			if _, ok := vols[mp.Name.String()]; ok {
				refs = append(refs, ref{volume: mp.Name.String(), target: mp.Path, readOnly: mp.ReadOnly})
			}
		}
	}
	var out []appMount
	for _, r := range refs {
		v, ok := vols[r.volume]
		if r.appVol != nil {
			v, ok = *r.appVol, true
		}
		if !ok {
			return nil, fmt.Errorf("mount at %s: %w %q", r.target, ErrNoVolume, r.volume)
		}
		m := appMount{target: r.target, readOnly: r.readOnly || (v.ReadOnly != nil && *v.ReadOnly),
			recursive: v.Recursive == nil || *v.Recursive}
		switch v.Kind {
		case "host":
			m.src = v.Source
			if s := rc.HostVolumes[r.volume]; s != "" {
				m.src = s
			}
		case "empty":
			if err := podlayout.ValidAppName(r.volume); err != nil {
				return nil, err
			}
			m.src = podlayout.SharedVolumeDir(pod, r.volume)
			if err := os.MkdirAll(m.src, 0o755); err != nil {
				return nil, fmt.Errorf("volume %q: %w", r.volume, err)
			}
		default:
			return nil, fmt.Errorf("volume %q: unknown kind %q", r.volume, v.Kind)
		}
		if !filepath.IsAbs(m.src) {
			return nil, fmt.Errorf("volume %q: source %q is not an absolute path", r.volume, m.src)
		}
		out = append(out, m)
	}
	return out, nil
}

// enterMountNS gives the calling thread a mount namespace of its own,
// slave to the host's, and mounts /proc, /sys, /dev and the volumes into
// the app's rootfs there.
func enterMountNS(a *flyApp) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("making a mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("making the mount namespace a slave: %w", err)
	}
	// A bind of the rootfs onto itself, so that it can be made read-only
	// and so that submounts hang off a mount of the app's own.
	if err := unix.Mount(a.rootfs, a.rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("binding the app rootfs: %w", err)
	}
	root, err := os.OpenRoot(a.rootfs)
	if err != nil {
		return fmt.Errorf("opening the app rootfs: %w", err)
	}
	defer root.Close()
	for _, m := range []appMount{
		{src: "/proc", target: "/proc", recursive: true},
		{src: "/sys", target: "/sys", recursive: true},
		{src: "/dev", target: "/dev", recursive: true},
	} {
		if err := appexec.BindInto(root, m.target, m.src, m.recursive, m.readOnly); err != nil {
			return err
		}
	}
	for _, m := range a.mounts {
		if err := appexec.BindInto(root, m.target, m.src, m.recursive, m.readOnly); err != nil {
			return err
		}
	}
	if a.readOnly {
		if err := appexec.RemountReadOnly(a.rootfs); err != nil {
			return fmt.Errorf("making the app rootfs read-only: %w", err)
		}
	}
	return nil
}

// lookPath resolves the app's command in its rootfs (the current root).
func lookPath(file, dirs string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	for _, d := range filepath.SplitList(dirs) {
		if d == "" {
			continue
		}
		p := filepath.Join(d, file)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %q", ErrCommandNotFound, file)
}
