package run

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage0/fscopy"
	"github.com/rkt/rkt/stage0/pod"
	"github.com/rkt/rkt/stage0/podspec"
	"github.com/rkt/rkt/store"
	"github.com/rkt/rkt/store/tree"
)

// layout writes a pod directory's contents.
type layout struct {
	pod      string
	treePath func(id string) string // a rendered tree's directory, holding rootfs/
	overlay  bool
	// implicit names the volumes made for uncovered mount points
	// (dockervolume.go).
	implicit map[types.ACName]bool
}

// writeNew creates a file that did not exist, in a pod directory this
// process has locked and is preparing: no other process reads it before
// the pod changes state, and a crash leaves an aborted prepare that gc
// removes, so it needs neither a temp file nor an fsync of its own.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_CLOEXEC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (l *layout) write(pm *schema.PodManifest, rc *podlayout.RuntimeConfig, s1 resolved, apps []resolved) error {
	pmData, err := pm.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encoding pod manifest: %w", err)
	}
	// The pod manifest and the runtime config are renamed into place, so
	// that `rkt list` and `rkt status` never read half of one, but not
	// fsynced: a pod that is prepared is made durable as a whole by
	// syncPod, and one that is run is garbage after a crash.
	if err := atomicfile.ReplaceFile(podlayout.PodManifest(l.pod), pmData, 0o644); err != nil {
		return fmt.Errorf("writing pod manifest: %w", err)
	}
	rcData, err := json.Marshal(rc)
	if err != nil {
		return fmt.Errorf("encoding runtime config: %w", err)
	}
	if err := atomicfile.ReplaceFile(podlayout.RuntimeConfigPath(l.pod), rcData, 0o644); err != nil {
		return fmt.Errorf("writing runtime config: %w", err)
	}
	if err := writeNew(filepath.Join(l.pod, podlayout.Stage1TreeStoreIDFile), []byte(s1.treeID), 0o644); err != nil {
		return fmt.Errorf("writing stage1 tree ID: %w", err)
	}
	if err := os.Mkdir(podlayout.Stage1Dir(l.pod), 0o755); err != nil {
		return fmt.Errorf("creating stage1 dir: %w", err)
	}
	if err := writeNew(podlayout.Stage1Manifest(l.pod), s1.raw, 0o644); err != nil {
		return fmt.Errorf("writing stage1 manifest: %w", err)
	}

	// stage1Files is where files under the stage1 rootfs go now: the
	// overlay's upper dir, or the copied rootfs.
	s1Root := podlayout.Stage1Rootfs(l.pod)
	s1Lower := filepath.Join(l.treePath(s1.treeID), "rootfs")
	var s1Files string
	if l.overlay {
		upper, err := l.overlayDirs(s1.treeID, "", s1Lower)
		if err != nil {
			return fmt.Errorf("laying out the stage1 rootfs: %w", err)
		}
		if err := os.Mkdir(s1Root, 0o755); err != nil {
			return fmt.Errorf("laying out the stage1 rootfs: %w", err)
		}
		s1Files = upper
	} else {
		if err := fscopy.Tree(s1Lower, s1Root); err != nil {
			return fmt.Errorf("copying the stage1 rootfs: %w", err)
		}
		s1Files = s1Root
	}

	for i, ra := range pm.Apps {
		name := ra.Name.String()
		if err := podlayout.ValidAppName(name); err != nil {
			return err
		}
		a := apps[i]
		if err := os.MkdirAll(podlayout.AppsInfoDir(l.pod, name), 0o755); err != nil {
			return fmt.Errorf("laying out app %s: %w", name, err)
		}
		if err := writeNew(podlayout.AppsInfoManifest(l.pod, name), a.raw, 0o644); err != nil {
			return fmt.Errorf("laying out app %s: %w", name, err)
		}
		if err := writeNew(podlayout.AppsInfoTreeStoreID(l.pod, name), []byte(a.treeID), 0o644); err != nil {
			return fmt.Errorf("laying out app %s: %w", name, err)
		}
		appDir := filepath.Join(s1Files, podlayout.InPodAppsDir, name)
		if err := os.MkdirAll(appDir, 0o755); err != nil {
			return fmt.Errorf("laying out app %s: %w", name, err)
		}
		if err := writeNew(filepath.Join(appDir, "manifest"), a.raw, 0o644); err != nil {
			return fmt.Errorf("laying out app %s: %w", name, err)
		}
		lower := filepath.Join(l.treePath(a.treeID), "rootfs")
		if l.overlay {
			if _, err := l.overlayDirs(a.treeID, name, lower); err != nil {
				return fmt.Errorf("laying out app %s: %w", name, err)
			}
			if err := os.Mkdir(filepath.Join(appDir, "rootfs"), 0o755); err != nil {
				return fmt.Errorf("laying out app %s: %w", name, err)
			}
		} else if err := fscopy.Tree(lower, filepath.Join(appDir, "rootfs")); err != nil {
			return fmt.Errorf("copying the rootfs of app %s: %w", name, err)
		}
	}
	fill, err := l.dockerVolumeSources(pm, apps)
	if err != nil {
		return err
	}
	for _, v := range pm.Volumes {
		if v.Kind != "empty" {
			continue
		}
		if src := fill[v.Name]; src != "" {
			err = dockerVolume(l.pod, v, src)
		} else {
			err = emptyVolume(l.pod, v)
		}
		if err != nil {
			return err
		}
	}
	if l.overlay {
		if err := writeNew(filepath.Join(l.pod, podlayout.OverlayPreparedFile), nil, 0o644); err != nil {
			return fmt.Errorf("marking overlay rootfs: %w", err)
		}
	}
	return nil
}

// overlayDirs creates overlay/<tree>/{upper,work}[/<app>] and gives the
// upper dir the mode and owner of the lower rootfs (the merged root takes
// them from the upper dir). It returns the upper dir.
func (l *layout) overlayDirs(treeID, app, lower string) (string, error) {
	od := podlayout.OverlayDir(l.pod, treeID)
	upper, work := filepath.Join(od, "upper"), filepath.Join(od, "work")
	if app != "" {
		upper, work = filepath.Join(upper, app), filepath.Join(work, app)
	}
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	st, err := os.Stat(lower)
	if err != nil {
		return "", err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		if err := os.Lchown(upper, int(sys.Uid), int(sys.Gid)); err != nil {
			return "", err
		}
	}
	if err := os.Chmod(upper, st.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return "", err
	}
	return upper, nil
}

// emptyVolume creates sharedVolumes/<vol> with the volume's mode (default
// 0755), uid and gid (default 0).
func emptyVolume(podDir string, v types.Volume) error {
	name := v.Name.String()
	if err := podlayout.ValidAppName(name); err != nil {
		return fmt.Errorf("volume %q: %w", name, err)
	}
	if err := podspec.ValidateVolume(v); err != nil {
		return err
	}
	mode := uint64(0o755)
	if v.Mode != nil {
		mode, _ = strconv.ParseUint(*v.Mode, 8, 32)
	}
	uid, gid := 0, 0
	if v.UID != nil {
		uid = *v.UID
	}
	if v.GID != nil {
		gid = *v.GID
	}
	if err := os.MkdirAll(podlayout.SharedVolumesDir(podDir), 0o755); err != nil {
		return fmt.Errorf("volume %q: %w", name, err)
	}
	dir := podlayout.SharedVolumeDir(podDir, name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("volume %q: %w", name, err)
	}
	if err := os.Lchown(dir, uid, gid); err != nil {
		return fmt.Errorf("volume %q: %w", name, err)
	}
	// chmod(2), not Mkdir's mode: the umask must not apply, and chown
	// clears set-id bits.
	if err := unix.Chmod(dir, uint32(mode)); err != nil {
		return fmt.Errorf("volume %q: %w", name, err)
	}
	return nil
}

// overlayUsable reports whether overlay rootfs can be used for pods in
// dataDir: the kernel has overlayfs and the data dir's filesystem can hold
// upper dirs.
func overlayUsable(dataDir string) bool {
	if !overlayAvailable("/proc/filesystems", "/lib/modules") {
		return false
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dataDir, &st); err != nil {
		return false
	}
	switch st.Type {
	case unix.OVERLAYFS_SUPER_MAGIC, unix.NFS_SUPER_MAGIC:
		return false
	}
	return true
}

// overlayAvailable says whether the kernel has overlayfs: registered
// already (filesystems, /proc/filesystems), or built as a module of the
// running kernel (listed in modulesDir/<release>/modules.dep), which the
// kernel loads on the first overlay mount. A fresh Debian host has not
// loaded it yet; without the second check every pod there would get
// copies of its images.
func overlayAvailable(filesystems, modulesDir string) bool {
	if data, err := os.ReadFile(filesystems); err == nil && bytes.Contains(data, []byte("\toverlay\n")) {
		return true
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	dep, err := os.ReadFile(filepath.Join(modulesDir, unix.ByteSliceToString(u.Release[:]), "modules.dep"))
	return err == nil && bytes.Contains(dep, []byte("/overlay.ko"))
}

// syncPod makes what was written in the pod directory durable with one
// syncfs(2) of its filesystem, before the pod is published as prepared.
func syncPod(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncing pod directory: %w", err)
	}
	return nil
}

// mountPod mounts the overlay rootfs of the stage1 and of every app of a
// pod prepared with overlay (nothing for a copied pod). Mounts already in
// place are kept. On failure, what it mounted is unmounted.
//
// The apps named in inPod (RuntimeConfig.AppLayers) are left unmounted:
// stage1 mounts them inside the pod's user namespace.
func mountPod(dataDir, podDir string, pm *schema.PodManifest, inPod map[string]string) (retErr error) {
	if _, err := os.Stat(filepath.Join(podDir, podlayout.OverlayPreparedFile)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if !overlayUsable(dataDir) {
		return fmt.Errorf("mounting the pod's rootfs: %w", ErrOverlayUnavailable)
	}
	defer func() {
		if retErr != nil {
			pod.UnmountAll(podDir)
		}
	}()
	s1Tree, err := readTreeID(filepath.Join(podDir, podlayout.Stage1TreeStoreIDFile))
	if err != nil {
		return err
	}
	if err := mountOverlay(dataDir, podDir, s1Tree, "", podlayout.Stage1Rootfs(podDir)); err != nil {
		return fmt.Errorf("mounting the stage1 rootfs: %w", err)
	}
	for _, ra := range pm.Apps {
		name := ra.Name.String()
		if err := podlayout.ValidAppName(name); err != nil {
			return err
		}
		if _, ok := inPod[name]; ok {
			continue
		}
		id, err := readTreeID(podlayout.AppsInfoTreeStoreID(podDir, name))
		if err != nil {
			return err
		}
		if err := mountOverlay(dataDir, podDir, id, name, podlayout.AppRootfs(podDir, name)); err != nil {
			return fmt.Errorf("mounting the rootfs of app %s: %w", name, err)
		}
	}
	return nil
}

// mountStage1 mounts only the stage1 rootfs of an overlay pod (for the
// stage1 gc entrypoint); false when the pod is not an overlay pod.
func mountStage1(dataDir, podDir string) (bool, error) {
	if _, err := os.Stat(filepath.Join(podDir, podlayout.OverlayPreparedFile)); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	id, err := readTreeID(filepath.Join(podDir, podlayout.Stage1TreeStoreIDFile))
	if err != nil {
		return false, err
	}
	return true, mountOverlay(dataDir, podDir, id, "", podlayout.Stage1Rootfs(podDir))
}

func readTreeID(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading tree ID: %w", err)
	}
	id := strings.TrimSpace(string(data))
	if !tree.ValidID(id) {
		return "", fmt.Errorf("reading tree ID %s: invalid tree ID %q", path, id)
	}
	return id, nil
}

// mountOverlay mounts lowerdir=<tree>/rootfs, upperdir and workdir under
// overlay/<tree>[/<app>] on target, unless something is mounted there.
func mountOverlay(dataDir, podDir, treeID, app, target string) error {
	if mounted, err := isMountPoint(target); err != nil || mounted {
		return err
	}
	lower := filepath.Join(store.TreeDir(dataDir, treeID), "rootfs")
	if _, err := os.Stat(lower); err != nil {
		return fmt.Errorf("image tree %s: %w (was the image removed? `rkt image gc` keeps trees of pods that are not garbage)", treeID, err)
	}
	od := podlayout.OverlayDir(podDir, treeID)
	upper, work := filepath.Join(od, "upper"), filepath.Join(od, "work")
	if app != "" {
		upper, work = filepath.Join(upper, app), filepath.Join(work, app)
	}
	opts := "lowerdir=" + escapeOverlay(lower) + ",upperdir=" + escapeOverlay(upper) + ",workdir=" + escapeOverlay(work)
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mounting overlay on %s: %w", target, err)
	}
	return nil
}

// overlayEscaper escapes the separators of overlayfs mount options. One
// for the process: a Replacer of single bytes builds a 6 KiB table on its
// first use, a page fault or two at each call when made per call.
var overlayEscaper = strings.NewReplacer(`\`, `\\`, `,`, `\,`, `:`, `\:`)

// escapeOverlay escapes the separators of overlayfs mount options. Most
// paths have none, and leave the escaper unbuilt.
func escapeOverlay(p string) string {
	if !strings.ContainsAny(p, `\,:`) {
		return p
	}
	return overlayEscaper.Replace(p)
}

// isMountPoint reports whether path is the root of a mount: its device
// differs from its parent's (true of overlay mounts, which get their own).
func isMountPoint(path string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return false, err
	}
	if err := unix.Lstat(filepath.Dir(path), &parent); err != nil {
		return false, err
	}
	return st.Dev != parent.Dev, nil
}
