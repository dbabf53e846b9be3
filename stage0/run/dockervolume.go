package run

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage0/fscopy"
	"github.com/rkt/rkt/stage0/podspec"
)

// Docker's volume semantics, as rkt 1.30 kept them for images converted
// from Docker (docker2aci and rkt's docker:// fetch mark them with the
// annotation appc.io/docker/repository): a mount point that no volume and
// no --mount covers gets an implicit empty volume, and for such an image
// that volume starts as a copy of what the image has at the mount point's
// path, with that directory's mode and owner. A volume the user declares,
// even of kind empty, is never filled; neither is any volume of an image
// not converted from Docker.

// dockerRepositoryAnnotation marks an image converted from Docker.
const dockerRepositoryAnnotation = "appc.io/docker/repository"

// implicitVolumes returns the names of pm's implicit empty volumes. For a
// pod built from the command line they are the volumes podspec.Manifest
// made for mount points nothing covered. A --pod-manifest gets them here,
// as rkt 1.30's stage1 made them: one per app and uncovered mount point,
// named <app>-<mount point>, added to the pod's volumes and the app's
// mounts.
func implicitVolumes(plan *podspec.Plan, pm *schema.PodManifest) map[types.ACName]bool {
	if plan.PodManifestFile != "" {
		return addManifestImplicitVolumes(pm)
	}
	declared := map[types.ACName]bool{}
	for _, v := range plan.Volumes {
		declared[v.Name] = true
	}
	implicit := map[types.ACName]bool{}
	for _, v := range pm.Volumes {
		if !declared[v.Name] {
			implicit[v.Name] = true
		}
	}
	return implicit
}

// addManifestImplicitVolumes gives each mount point of pm's apps that no
// mount of its app and no pod volume of its name covers an empty volume of
// its own (mode 0755, owned by root, read-only as the mount point says).
func addManifestImplicitVolumes(pm *schema.PodManifest) map[types.ACName]bool {
	volumes := map[types.ACName]bool{}
	for _, v := range pm.Volumes {
		volumes[v.Name] = true
	}
	implicit := map[types.ACName]bool{}
	for i := range pm.Apps {
		ra := &pm.Apps[i]
		for _, mp := range ra.App.MountPoints {
			if volumes[mp.Name] || covers(ra.Mounts, mp) {
				continue
			}
			name := manifestImplicitName(ra.Name, mp.Name)
			mode, zero, ro := "0755", 0, mp.ReadOnly
			pm.Volumes = append(pm.Volumes, types.Volume{Name: name, Kind: "empty", ReadOnly: &ro, Mode: &mode, UID: &zero, GID: &zero})
			ra.Mounts = append(ra.Mounts, schema.Mount{Volume: name, Path: mp.Path})
			volumes[name] = true
			implicit[name] = true
		}
	}
	return implicit
}

// manifestImplicitName names the implicit volume of an app's mount point
// in a --pod-manifest pod: both are ACNames, so their join is one too.
func manifestImplicitName(app, mountPoint types.ACName) types.ACName {
	return types.ACName(app.String() + "-" + mountPoint.String())
}

// covers tells whether one of mounts is at mp's path or of mp's volume.
func covers(mounts []schema.Mount, mp types.MountPoint) bool {
	for _, m := range mounts {
		if filepath.Clean("/"+m.Path) == filepath.Clean("/"+mp.Path) || m.Volume == mp.Name {
			return true
		}
	}
	return false
}

// dockerVolumeSources maps each implicit empty volume to fill to the
// directory of an app's rendered rootfs it starts as a copy of.
func (l *layout) dockerVolumeSources(pm *schema.PodManifest, apps []resolved) (map[types.ACName]string, error) {
	out := map[types.ACName]string{}
	for i, ra := range pm.Apps {
		im := apps[i].manifest
		if im == nil || ra.App == nil {
			continue
		}
		if _, ok := im.Annotations.Get(dockerRepositoryAnnotation); !ok {
			continue
		}
		rootfs := filepath.Join(l.treePath(apps[i].treeID), "rootfs")
		for _, mp := range ra.App.MountPoints {
			vol := mp.Name
			if !l.implicit[vol] {
				if vol = manifestImplicitName(ra.Name, mp.Name); !l.implicit[vol] {
					continue
				}
			}
			if _, taken := out[vol]; taken {
				continue // the first app's content, as the volume is made once
			}
			src, err := dirInRootfs(rootfs, mp.Path)
			if err != nil {
				return nil, fmt.Errorf("volume %q of app %s: %w", vol, ra.Name, err)
			}
			if src != "" {
				out[vol] = src
			}
		}
	}
	return out, nil
}

// dirInRootfs returns rootfs joined with path when every element of path
// is a real directory of the rootfs, and "" when path is missing there, is
// not a directory, or passes through a symlink (which is not followed out
// of the image: the volume then starts empty).
func dirInRootfs(rootfs, path string) (string, error) {
	cur := rootfs
	for _, el := range strings.Split(filepath.Clean("/"+path), "/") {
		if el == "" {
			continue
		}
		cur = filepath.Join(cur, el)
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if !fi.IsDir() {
			return "", nil
		}
	}
	if cur == rootfs {
		return "", nil // a mount point on / itself is nothing to copy
	}
	return cur, nil
}

// dockerVolume makes the pod's sharedVolumes/<vol> a copy of src: its
// content, mode and owner.
func dockerVolume(podDir string, v types.Volume, src string) error {
	name := v.Name.String()
	if err := podlayout.ValidAppName(name); err != nil {
		return fmt.Errorf("volume %q: %w", name, err)
	}
	if err := os.MkdirAll(podlayout.SharedVolumesDir(podDir), 0o755); err != nil {
		return fmt.Errorf("volume %q: %w", name, err)
	}
	if err := fscopy.Tree(src, podlayout.SharedVolumeDir(podDir, name)); err != nil {
		return fmt.Errorf("volume %q: copying the image's content: %w", name, err)
	}
	return nil
}
