package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/idmap"
	"github.com/rkt/rkt/common/podlayout"
)

// An overlay pod with --private-users (RuntimeConfig.AppLayers) gets its
// apps' rootfs without a chown: for each app, /init attaches an idmapped,
// read-only clone of the app's image tree at /rkt/layers/<app> in the
// stage1 rootfs (host ids 0-65535 shown as the pod's range), gives the
// app's empty upper and work directories to the range's root and binds
// the pod's overlay directory for the tree at /rkt/overlay/<app>; the
// supervisor then mounts the app's overlay from them inside the pod's user
// namespace. nspawn runs with --private-users-ownership=off: its chown
// walk would follow the idmapped mounts into the shared tree store. The
// few stage1 directories the supervisor writes to are given to the
// range's root instead.

// supervisorWrites are the stage1 directories the supervisor creates files
// in, relative to the stage1 rootfs.
var supervisorWrites = []string{"rkt", podlayout.InPodStatusDir, podlayout.InPodEnvDir, podlayout.InPodIsolationDir}

// mountLayers prepares the apps of rc.AppLayers as above.
func (u *userNS) mountLayers(pod string, rc *podlayout.RuntimeConfig) error {
	nsFile, err := idmap.UserNS(u.base, usernsSize)
	if err != nil {
		return fmt.Errorf("idmapping the apps' layers: %w", err)
	}
	defer nsFile.Close()
	rootfs := podlayout.Stage1Rootfs(pod)
	apps := make([]string, 0, len(rc.AppLayers))
	for app := range rc.AppLayers {
		apps = append(apps, app)
	}
	slices.Sort(apps)
	for _, app := range apps {
		if err := podlayout.ValidAppName(app); err != nil {
			return fmt.Errorf("idmapping the apps' layers: %w", err)
		}
		lower := rc.AppLayers[app]
		if !filepath.IsAbs(lower) {
			return fmt.Errorf("idmapping the layer of app %s: %q is not an absolute path", app, lower)
		}
		target := filepath.Join(rootfs, podlayout.InPodLayersDir, app)
		if err := os.MkdirAll(target, 0o755); err != nil {
			return fmt.Errorf("idmapping the layer of app %s: %w", app, err)
		}
		if err := idmap.Attach(lower, target, nsFile); err != nil {
			return fmt.Errorf("idmapping the layer of app %s: %w", app, err)
		}
		if err := u.bindOverlayDir(pod, rootfs, app); err != nil {
			return err
		}
	}
	for _, d := range supervisorWrites {
		p := filepath.Join(rootfs, d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return fmt.Errorf("giving %s to the pod's root: %w", d, err)
		}
		if err := os.Lchown(p, u.base, u.base); err != nil {
			return fmt.Errorf("giving %s to the pod's root: %w", d, err)
		}
	}
	return nil
}

// bindOverlayDir gives the app's upper and work directories to the range's
// root and binds the overlay directory holding them into the pod (upper
// and work must be on one mount).
func (u *userNS) bindOverlayDir(pod, rootfs, app string) error {
	data, err := os.ReadFile(podlayout.AppsInfoTreeStoreID(pod, app))
	if err != nil {
		return fmt.Errorf("preparing the overlay of app %s: %w", app, err)
	}
	tree := strings.TrimSpace(string(data))
	if tree == "" || tree != filepath.Base(tree) || tree == "." || tree == ".." {
		return fmt.Errorf("preparing the overlay of app %s: invalid tree ID %q", app, tree)
	}
	od := podlayout.OverlayDir(pod, tree)
	for _, d := range []string{filepath.Join(od, "upper", app), filepath.Join(od, "work", app)} {
		if err := os.Lchown(d, u.base, u.base); err != nil {
			return fmt.Errorf("preparing the overlay of app %s: %w", app, err)
		}
	}
	target := filepath.Join(rootfs, podlayout.InPodOverlayDir, app)
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("preparing the overlay of app %s: %w", app, err)
	}
	if err := unix.Mount(od, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("preparing the overlay of app %s: binding %s: %w", app, od, err)
	}
	return nil
}
