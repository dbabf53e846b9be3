// Package export writes an app of an exited pod as an ACI (`rkt export`):
// the app's rootfs as the pod left it, with its image manifest.
//
// Invariants:
//   - only exited pods are exported, and the pod's lock is held shared
//     for the whole export, so gc and rm (exclusive) cannot remove it and
//     it cannot be run again meanwhile;
//   - an overlay pod is read through a fresh read-only overlay (the app's
//     upper directory over its image tree) mounted in a private temp
//     directory and unmounted before returning, so whiteouts and opaque
//     directories read as the app saw them and the pod is never written;
//   - a copied (non-overlay) rootfs is read in place, and only when no
//     mount remains under it (a volume's content is not the app's);
//   - the ACI is uncompressed: manifest, then rootfs/ (see fscopy.Tar).
package export

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/rkt/rkt/common/mountinfo"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/appc/spec/schema/types"
	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage0/fscopy"
	"github.com/rkt/rkt/stage0/pod"
)

// Trees finds rendered image trees: *store.Store.
type Trees interface {
	TreePath(treeID string) string
}

// App writes app of the exited pod p (app "" is the only app) to w as an
// uncompressed ACI. It returns the name of the app exported.
func App(ctx context.Context, p *pod.Pod, app string, trees Trees, w io.Writer) (string, error) {
	l, err := flock.LockPath(p.Path, flock.Shared, false, false)
	if err != nil {
		if errors.Is(err, flock.ErrLocked) {
			return "", fmt.Errorf("exporting pod %s: %w", p.UUID, ErrNotExited)
		}
		return "", fmt.Errorf("exporting pod %s: %w", p.UUID, err)
	}
	defer l.Close()
	if err := p.Refresh(); err != nil {
		return "", fmt.Errorf("exporting pod %s: %w", p.UUID, err)
	}
	if !p.State.Exited() {
		return "", fmt.Errorf("exporting pod %s: %w", p.UUID, ErrNotExited)
	}
	pm, _, err := p.Manifest()
	if err != nil {
		return "", fmt.Errorf("exporting pod %s: %w", p.UUID, err)
	}
	switch {
	case app == "" && len(pm.Apps) != 1:
		return "", fmt.Errorf("exporting pod %s: %w", p.UUID, ErrAppRequired)
	case app == "":
		app = pm.Apps[0].Name.String()
	default:
		if err := podlayout.ValidAppName(app); err != nil {
			return "", fmt.Errorf("exporting pod %s: %w", p.UUID, err)
		}
		if pm.Apps.Get(types.ACName(app)) == nil {
			return "", fmt.Errorf("exporting pod %s: app %q: %w", p.UUID, app, ErrNoSuchApp)
		}
	}
	manifest, err := os.ReadFile(podlayout.AppsInfoManifest(p.Path, app))
	if err != nil {
		return "", fmt.Errorf("exporting app %s of pod %s: reading its image manifest: %w", app, p.UUID, err)
	}
	rootfs, cleanup, err := rootfsOf(p.Path, app, trees)
	if err != nil {
		return "", fmt.Errorf("exporting app %s of pod %s: %w", app, p.UUID, err)
	}
	defer cleanup()
	if err := writeACI(w, manifest, rootfs); err != nil {
		return "", fmt.Errorf("exporting app %s of pod %s: %w", app, p.UUID, err)
	}
	return app, nil
}

// rootfsOf returns a directory holding app's rootfs as the pod left it,
// and what to call when done with it.
func rootfsOf(podDir, app string, trees Trees) (string, func(), error) {
	nothing := func() {}
	if _, err := os.Stat(filepath.Join(podDir, podlayout.OverlayPreparedFile)); err != nil {
		rootfs := podlayout.AppRootfs(podDir, app)
		real, err := filepath.EvalSymlinks(rootfs)
		if err != nil {
			return "", nothing, err
		}
		mps, err := mountinfo.Under(real)
		if err != nil {
			return "", nothing, err
		}
		if len(mps) > 0 {
			return "", nothing, fmt.Errorf("%w: %s", ErrMountsRemain, strings.Join(mps, ", "))
		}
		return rootfs, nothing, nil
	}
	b, err := os.ReadFile(podlayout.AppsInfoTreeStoreID(podDir, app))
	if err != nil {
		return "", nothing, fmt.Errorf("reading the app's tree ID: %w", err)
	}
	treeID := strings.TrimSpace(string(b))
	lower := filepath.Join(trees.TreePath(treeID), "rootfs")
	if _, err := os.Stat(lower); err != nil {
		return "", nothing, fmt.Errorf("image tree %s: %w", treeID, err)
	}
	layers := []string{lower}
	upper := filepath.Join(podlayout.OverlayDir(podDir, treeID), "upper", app)
	if _, err := os.Stat(upper); err == nil {
		layers = []string{upper, lower}
	}
	mnt, err := os.MkdirTemp("", "rkt-export-")
	if err != nil {
		return "", nothing, err
	}
	for i, l := range layers {
		layers[i] = strings.NewReplacer(`\`, `\\`, `,`, `\,`, `:`, `\:`).Replace(l)
	}
	opts := "lowerdir=" + strings.Join(layers, ":")
	if rc, err := podlayout.ReadRuntimeConfig(podlayout.RuntimeConfigPath(podDir)); err == nil && rc.AppLayers[app] != "" {
		// The app's overlay was mounted inside the pod's user namespace,
		// which keeps overlayfs's own xattrs in the user.* namespace.
		opts += ",userxattr"
	}
	if err := unix.Mount("overlay", mnt, "overlay", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		os.Remove(mnt)
		return "", nothing, fmt.Errorf("mounting the app's overlay read-only: %w", err)
	}
	return mnt, func() {
		unix.Unmount(mnt, unix.MNT_DETACH)
		os.Remove(mnt)
	}, nil
}

// writeACI writes the manifest and the rootfs tree as an ACI tar.
func writeACI(w io.Writer, manifest []byte, rootfs string) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	tw := tar.NewWriter(bw)
	if err := tw.WriteHeader(&tar.Header{Name: "manifest", Mode: 0o644, Size: int64(len(manifest)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	if _, err := tw.Write(manifest); err != nil {
		return err
	}
	if err := fscopy.Tar(tw, rootfs, "rootfs"); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}
