package idmap

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/mountinfo"
)

// TestAttach attaches an idmapped clone of a tree: through it the
// tree's files show the range's ids and cannot be written, while the tree
// itself keeps its owners.
func TestAttach(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("idmapped mounts need root")
	}
	const base = 0x00090000
	src, dst := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(filepath.Join(src, "f"), 1000, 1100); err != nil {
		t.Fatal(err)
	}
	ns, err := UserNS(base, 0x10000)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	// The namespace's process, stopped at its exec, is killed and reaped.
	if pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG|syscall.WALL, nil); !errors.Is(err, syscall.ECHILD) {
		t.Errorf("a child is left after making the namespace: wait4 = %d, %v", pid, err)
	}
	if err := Attach(src, dst, ns); err != nil {
		t.Skipf("no idmapped mounts of %s here: %v", src, err)
	}
	t.Cleanup(func() { unix.Unmount(dst, unix.MNT_DETACH) })

	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(dst, "f"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != base+1000 || st.Gid != base+1100 {
		t.Errorf("through the idmapped mount: owner %d:%d, want %d:%d", st.Uid, st.Gid, base+1000, base+1100)
	}
	if err := os.WriteFile(filepath.Join(dst, "g"), nil, 0o644); err == nil {
		t.Error("the idmapped clone is writable, want read-only")
	}
	if err := syscall.Lstat(filepath.Join(src, "f"), &st); err != nil || st.Uid != 1000 || st.Gid != 1100 {
		t.Errorf("the tree itself: owner %d:%d (%v), want 1000:1100", st.Uid, st.Gid, err)
	}
}

// TestSupported: a tmpfs can be idmapped on this kernel and a ramfs
// cannot, and the probe leaves no mount behind (under the probed dir:
// other tests may mount elsewhere meanwhile).
func TestSupported(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("idmapped mounts and test mounts need root")
	}
	for _, c := range []struct {
		fs   string
		want bool
	}{{"tmpfs", true}, {"ramfs", false}} {
		dir := t.TempDir()
		if err := unix.Mount(c.fs, dir, c.fs, 0, ""); err != nil {
			t.Fatalf("mounting a %s: %v", c.fs, err)
		}
		t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
		before := mountsUnder(t, dir)
		err := Supported(dir)
		if c.want && err != nil {
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
				t.Skipf("no idmapped tmpfs on this kernel: %v", err)
			}
			t.Errorf("%s: %v, want it supported", c.fs, err)
		}
		if !c.want && err == nil {
			t.Errorf("%s: supported, want an error", c.fs)
		}
		if after := mountsUnder(t, dir); !slices.Equal(after, before) {
			t.Errorf("%s: the probe changed the mount table", c.fs)
		}
	}
}

func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	mps, err := mountinfo.Under(dir)
	if err != nil {
		t.Fatal(err)
	}
	return mps
}
