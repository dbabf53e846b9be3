package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage1/isolation/cgroups"
	"github.com/rkt/rkt/stage1/network"
	"github.com/rkt/rkt/stage1/stage1cmd"
)

// runGC tears down what the pod left on the host. The pod's own mounts
// lived in namespaces that died with it, and stage0 unmounts the pod
// directory itself; what is left is its networks (CNI DEL of each, which
// releases addresses, links and iptables rules, then the namespace), its
// cgroup tree (every process left in it is killed first), and nspawn's
// per-machine propagation directory when it could not remove it. Each
// step is idempotent: a pod never started, half started or already
// collected has nothing to do, and a failed step is retried by the next
// gc. All steps run; their errors are joined.
func runGC(args []string) error {
	ga, pod, err := stage1cmd.ParseGC(args)
	if err != nil {
		return err
	}
	var errs []error
	if err := network.Teardown(context.Background(), pod); err != nil {
		errs = append(errs, fmt.Errorf("collecting pod %s: %w", ga.UUID, err))
	}
	if err := destroyCgroup(pod); err != nil {
		errs = append(errs, fmt.Errorf("collecting pod %s: %w", ga.UUID, err))
	}
	// Only an empty directory is removed (rmdir): nothing under it is ours
	// to delete, and a non-empty one is left for nspawn's next run.
	dir := filepath.Join(nspawnDirs, "propagate", "rkt-"+ga.UUID)
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTEMPTY) {
		errs = append(errs, fmt.Errorf("collecting pod %s: removing %s: %w", ga.UUID, dir, err))
	}
	return errors.Join(errs...)
}

// destroyCgroup kills what is left in the pod's cgroup tree and removes
// it, then its record. No record: nothing to do.
func destroyCgroup(pod string) error {
	file := filepath.Join(pod, podlayout.CgroupFile)
	cg, err := cgroups.Load(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing the pod's cgroup: %w", err)
	}
	if err := cg.Destroy(context.Background()); err != nil {
		return fmt.Errorf("removing the pod's cgroup: %w", err)
	}
	if err := removeSystemdMirror(cg.Dirs()[cgroups.UnifiedKey]); err != nil {
		return fmt.Errorf("removing the pod's cgroup: %w", err)
	}
	if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the pod's cgroup record: %w", err)
	}
	return nil
}

// removeSystemdMirror removes the copy of the pod's cgroup tree that
// systemd-nspawn makes in the name=systemd hierarchy on a hybrid host
// (it keeps that hierarchy in step with the cgroup2 one it runs in).
// The processes are gone by now (Destroy killed them through the other
// hierarchies), so only empty directories are removed, deepest first;
// only a directory named like a pod cgroup, at the unified directory's
// path, is touched.
func removeSystemdMirror(unifiedDir string) error {
	if unifiedDir == "" || !strings.HasPrefix(filepath.Base(unifiedDir), cgroups.PodPrefix) {
		return nil
	}
	unifiedMnt, systemdMnt := cgroupMounts()
	return removeMirror(unifiedDir, unifiedMnt, systemdMnt)
}

// removeMirror removes, deepest first, the empty directories of the tree
// at unifiedDir's place relative to unifiedMnt, under systemdMnt.
func removeMirror(unifiedDir, unifiedMnt, systemdMnt string) error {
	if unifiedMnt == "" || systemdMnt == "" {
		return nil
	}
	rel, err := filepath.Rel(unifiedMnt, unifiedDir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return nil
	}
	root := filepath.Join(systemdMnt, rel)
	var dirs []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing %s: %w", root, err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", dirs[i], err)
		}
	}
	return nil
}

// cgroupMounts finds the mount points of the cgroup2 hierarchy and of the
// name=systemd v1 hierarchy, when both are mounted with their whole tree
// (mount root "/").
func cgroupMounts() (unified, systemd string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", ""
	}
	return cgroupMountsIn(data)
}

func cgroupMountsIn(mountinfo []byte) (unified, systemd string) {
	for _, line := range strings.Split(string(mountinfo), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || f[3] != "/" {
			continue
		}
		switch {
		case g[0] == "cgroup2" && unified == "":
			unified = f[4]
		case g[0] == "cgroup" && slices.Contains(strings.Split(g[2], ","), "name=systemd") && systemd == "":
			systemd = f[4]
		}
	}
	return unified, systemd
}
