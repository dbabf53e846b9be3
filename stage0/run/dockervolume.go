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

// implicitVolumes returns the names of pm's volumes that the plan did not
// declare: those made for mount points nothing covered (podspec.Manifest).
// A --pod-manifest declares all of its volumes itself.
func implicitVolumes(plan *podspec.Plan, pm *schema.PodManifest) map[types.ACName]bool {
	if plan.PodManifestFile != "" {
		return nil
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
			if !l.implicit[mp.Name] {
				continue
			}
			if _, taken := out[mp.Name]; taken {
				continue // the first app's content, as the volume is made once
			}
			src, err := dirInRootfs(rootfs, mp.Path)
			if err != nil {
				return nil, fmt.Errorf("volume %q of app %s: %w", mp.Name, ra.Name, err)
			}
			if src != "" {
				out[mp.Name] = src
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
