package store

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// A filesystem that reports no size (ramfs: no blocks, none free) has no
// floor to keep; a sized one (tmpfs) does.
func TestCheckFreeOnUnsizedFilesystem(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting ramfs and tmpfs needs root")
	}
	lim := Limits{MinFreeBytes: 512 << 20, MinFreePercent: 2}
	for _, c := range []struct {
		fs, opts string
		refused  bool
	}{
		{"ramfs", "", false},
		{"tmpfs", "size=16m", true},
	} {
		dir := t.TempDir()
		if err := unix.Mount(c.fs, dir, c.fs, 0, c.opts); err != nil {
			t.Fatalf("mounting %s: %v", c.fs, err)
		}
		t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
		err := lim.checkFree(dir, 0)
		var fe *FreeSpaceError
		if got := errors.As(err, &fe); got != c.refused {
			t.Errorf("%s: checkFree = %v, want refused %v", c.fs, err, c.refused)
		}
	}
}
