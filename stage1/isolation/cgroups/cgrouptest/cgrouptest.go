// Package cgrouptest runs the host's systemd-nspawn from tests in a cgroup
// of its own, which it removes when the test ends.
//
// On a cgroup v2 or hybrid host nspawn splits the cgroup it starts in into
// payload/ and supervisor/ children, and with --keep-unit it leaves them
// behind. A test that runs nspawn from its own cgroup (the root one, from
// a shell on a fresh machine) would leave them there, outside anything gc
// or the test removes. The nspawn stage1 does the same for a pod: /init
// enters the pod's _stage1 cgroup before it execs nspawn, and gc removes
// the pod's cgroup tree.
package cgrouptest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/rkt/rkt/stage1/isolation/cgroups"
)

var runs atomic.Int64

// New makes a new cgroup below the test's and returns a function that
// makes a command (systemd-nspawn, or whatever runs it) start there, by
// clone3 into the v2 hierarchy; several commands may share it. When the
// test ends the cgroup is removed, with what nspawn made in it and its
// copy in the name=systemd hierarchy of a hybrid host. On a host without
// cgroup v2 the function leaves commands as they are.
func New(t testing.TB) func(*exec.Cmd) {
	t.Helper()
	h, err := cgroups.Discover()
	if err != nil {
		t.Fatalf("finding the test's cgroups: %v", err)
	}
	cg, err := h.Self().Child(fmt.Sprintf("%snspawn-test-%d-%d", cgroups.PodPrefix, os.Getpid(), runs.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := cg.Create(cgroups.Resources{}); err != nil {
		t.Fatalf("creating a cgroup for systemd-nspawn: %v", err)
	}
	t.Cleanup(func() {
		if err := cg.Destroy(context.Background()); err != nil {
			t.Errorf("removing systemd-nspawn's cgroup: %v", err)
		}
		if err := removeSystemdCopy(cg.Path(cgroups.UnifiedKey)); err != nil {
			t.Errorf("removing systemd-nspawn's cgroup: %v", err)
		}
	})
	f, err := cg.UnifiedDir()
	if errors.Is(err, cgroups.ErrControllerMissing) {
		return func(*exec.Cmd) {} // a v1-only host: nspawn splits no cgroup there
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return func(cmd *exec.Cmd) {
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(f.Fd())
	}
}

// CheckUnsplit notes which of nspawn's payload/ and supervisor/ children
// the test's own v2 cgroup has, and returns a function that fails the test
// for any that appeared since: a systemd-nspawn run from the test's
// cgroup rather than one of its own.
func CheckUnsplit(t testing.TB) func() {
	t.Helper()
	h, err := cgroups.Discover()
	if err != nil {
		t.Fatalf("finding the test's cgroups: %v", err)
	}
	dir := h.Self().Dirs()[cgroups.UnifiedKey]
	if dir == "" {
		return func() {}
	}
	var watch []string
	for _, n := range []string{"payload", "supervisor"} {
		if _, err := os.Stat(filepath.Join(dir, n)); errors.Is(err, fs.ErrNotExist) {
			watch = append(watch, filepath.Join(dir, n))
		}
	}
	return func() {
		t.Helper()
		for _, p := range watch {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("systemd-nspawn split the test's own cgroup: %s appeared", p)
			}
		}
	}
}

// removeSystemdCopy removes, deepest first, the empty directories that
// nspawn made at cgroup path p of the name=systemd hierarchy of a hybrid
// host, where it mirrors what it makes in the v2 one.
func removeSystemdCopy(p string) error {
	if p == "" {
		return nil
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(mi), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || f[3] != "/" || g[0] != "cgroup" ||
			!strings.Contains(","+g[2]+",", ",name=systemd,") {
			continue
		}
		var dirs []string
		err := filepath.WalkDir(filepath.Join(f[4], p), func(d string, e fs.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, d)
			}
			return err
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := os.Remove(dirs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}
