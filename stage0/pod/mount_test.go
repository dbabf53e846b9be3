package pod

import (
	"context"
	"errors"
	"github.com/rkt/rkt/common/mountinfo"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/podlayout"
)

func mount(t *testing.T, src, target, fstype string, flags uintptr, data string) {
	t.Helper()
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(src, target, fstype, flags, data); err != nil {
		t.Fatalf("mounting %s on %s: %v", src, target, err)
	}
	t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
}

// hostDir is a directory outside every pod with a file a pod must never
// delete.
func hostDir(t *testing.T) (dir, precious string) {
	t.Helper()
	dir = t.TempDir()
	precious = filepath.Join(dir, "precious")
	if err := os.WriteFile(precious, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "also"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, precious
}

func checkHostDir(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []string{"precious", "sub/also"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("host file %s: %v", f, err)
		}
	}
}

func mountsLeft(t *testing.T, root string) []string {
	t.Helper()
	root, _ = canonical(root)
	left, err := mountinfo.Under(root)
	if err != nil {
		t.Fatal(err)
	}
	return left
}

// overlay mounts an overlay of a fresh lower dir on target.
func overlay(t *testing.T, target string) {
	t.Helper()
	base := t.TempDir()
	for _, d := range []string{"lower", "upper", "work"} {
		os.Mkdir(filepath.Join(base, d), 0o755)
	}
	os.WriteFile(filepath.Join(base, "lower", "bin"), []byte("image file"), 0o644)
	mount(t, "overlay", target, "overlay", 0,
		"lowerdir="+filepath.Join(base, "lower")+",upperdir="+filepath.Join(base, "upper")+",workdir="+filepath.Join(base, "work"))
	if _, err := os.Stat(filepath.Join(target, "bin")); err != nil {
		t.Fatalf("overlay not mounted: %v", err)
	}
}

func TestUnmountAllNestedStackedAndBusy(t *testing.T) {
	needRoot(t)
	root := filepath.Join(t.TempDir(), "dir with space")
	host, _ := hostDir(t)
	mount(t, "tmpfs", filepath.Join(root, "a"), "tmpfs", 0, "")
	mount(t, host, filepath.Join(root, "a", "vol"), "", unix.MS_BIND, "")
	mount(t, "tmpfs", filepath.Join(root, "a", "vol", "sub"), "tmpfs", 0, "") // nested, over a host dir
	overlay(t, filepath.Join(root, "a", "rootfs"))
	mount(t, "tmpfs", filepath.Join(root, "stacked"), "tmpfs", 0, "")
	mount(t, "tmpfs", filepath.Join(root, "stacked"), "tmpfs", 0, "")
	mount(t, "tmpfs", filepath.Join(root, "busy"), "tmpfs", 0, "")
	// a process whose cwd is in a mount keeps it busy: umount gives EBUSY
	busy := exec.Command("sleep", "1000")
	busy.Dir = filepath.Join(root, "busy")
	if err := busy.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { busy.Process.Kill(); busy.Wait() }()
	if err := unix.Unmount(filepath.Join(root, "busy"), 0); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("the busy mount is not busy: %v", err)
	}
	if n := len(mountsLeft(t, root)); n != 7 {
		t.Fatalf("%d mounts under the root before, want 7: %v", n, mountsLeft(t, root))
	}

	if err := UnmountAll(root); err != nil {
		t.Fatal(err)
	}
	if left := mountsLeft(t, root); len(left) != 0 {
		t.Fatalf("mounts left: %v", left)
	}
	checkHostDir(t, host)
	if err := UnmountAll(root); err != nil {
		t.Fatalf("UnmountAll with nothing mounted: %v", err)
	}
}

func TestRemoveTreeNeverCrossesMounts(t *testing.T) {
	needRoot(t)
	host, _ := hostDir(t)
	root := filepath.Join(t.TempDir(), "pod")
	os.MkdirAll(filepath.Join(root, "x", "y"), 0o755)
	os.WriteFile(filepath.Join(root, "x", "y", "f"), nil, 0o644)
	mount(t, host, filepath.Join(root, "x", "vol"), "", unix.MS_BIND, "")
	err := removeTree(root)
	if !errors.Is(err, ErrMountsRemain) {
		t.Fatalf("removeTree through a bind mount: %v", err)
	}
	checkHostDir(t, host)

	// a file bind-mounted over a file
	unix.Unmount(filepath.Join(root, "x", "vol"), 0)
	os.WriteFile(filepath.Join(root, "x", "hosts"), nil, 0o644)
	if err := unix.Mount(filepath.Join(host, "precious"), filepath.Join(root, "x", "hosts"), "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(filepath.Join(root, "x", "hosts"), unix.MNT_DETACH)
	if err := removeTree(root); !errors.Is(err, ErrMountsRemain) {
		t.Fatalf("removeTree over a file bind mount: %v", err)
	}
	checkHostDir(t, host)

	unix.Unmount(filepath.Join(root, "x", "hosts"), 0)
	// a symlink to the host dir is removed, not followed
	os.Symlink(host, filepath.Join(root, "x", "link"))
	if err := removeTree(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(root); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("root still there: %v", err)
	}
	checkHostDir(t, host)
}

// A pod that ran with its stage1 rootfs and app rootfs overlays and a host
// volume bound inside is removed by gc with nothing left mounted and the
// host volume's files intact.
func TestGCRemovesMountedPodKeepingHostFiles(t *testing.T) {
	needRoot(t)
	dataDir := t.TempDir()
	host, _ := hostDir(t)
	p, child := runningPod(t, dataDir)
	overlay(t, podlayout.Stage1Rootfs(p.Path))
	overlay(t, podlayout.AppRootfs(p.Path, "web"))
	mount(t, host, podlayout.VolumeMountPoint(p.Path, "data"), "", unix.MS_BIND, "")
	mount(t, podlayout.VolumeMountPoint(p.Path, "data"), filepath.Join(podlayout.AppRootfs(p.Path, "web"), "data"), "", unix.MS_BIND|unix.MS_REC, "")
	mount(t, "proc", filepath.Join(podlayout.AppRootfs(p.Path, "web"), "proc"), "proc", 0, "")
	stopHolder(t, child)

	var sawMounts int
	res, err := GC(context.Background(), dataDir, GCOptions{
		Stage1GC: func(_ context.Context, q *Pod) error {
			sawMounts = len(mountsLeft(t, q.Path)) // stage1 gc runs before the unmounting
			return nil
		},
	})
	if err != nil || len(res.Marked) != 1 || len(res.Removed) != 1 {
		t.Fatalf("gc: %+v, %v", res, err)
	}
	if sawMounts != 5 {
		t.Errorf("stage1 gc saw %d mounts, want 5", sawMounts)
	}
	if left := mountsLeft(t, dataDir); len(left) != 0 {
		t.Fatalf("mounts left under the data dir: %v", left)
	}
	if ents, _ := os.ReadDir(filepath.Join(dataDir, "pods", "exited-garbage")); len(ents) != 0 {
		t.Fatalf("pod dir left: %v", ents)
	}
	checkHostDir(t, host)
}

// rm of an exited pod with a busy mount: the mount is lazily detached and
// the pod removed; the host files behind it survive.
func TestRemoveWithBusyMount(t *testing.T) {
	needRoot(t)
	dataDir := t.TempDir()
	host, _ := hostDir(t)
	p, child := runningPod(t, dataDir)
	vol := podlayout.VolumeMountPoint(p.Path, "data")
	mount(t, host, vol, "", unix.MS_BIND, "")
	busy := exec.Command("sleep", "1000")
	busy.Dir = filepath.Join(vol, "sub")
	if err := busy.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { busy.Process.Kill(); busy.Wait() }()
	stopHolder(t, child)

	start := time.Now()
	if err := mustGet(t, dataDir, p.UUID).Remove(context.Background(), GCOptions{}); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("rm took %v", time.Since(start))
	}
	if left := mountsLeft(t, dataDir); len(left) != 0 {
		t.Fatalf("mounts left: %v", left)
	}
	if _, err := Get(dataDir, p.UUID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pod after rm: %v", err)
	}
	checkHostDir(t, host)
}
