package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/store/storetest"
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

// On a small filesystem the default floor of 512 MiB would refuse every
// fetch: it is capped at 5% of the filesystem, so a 64 MiB tmpfs takes an
// image and keeps 5% free; a configured floor (no cap) still refuses, with
// a message that says how to lower it.
func TestDefaultFloorOnSmallFilesystem(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting tmpfs needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64m"); err != nil {
		t.Fatalf("mounting tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	s := openStore(t, filepath.Join(dir, "data"))
	aci := storetest.BuildACI(t, "example.com/small", nil, storetest.File{Name: "hello", Body: []byte("hello")})
	if _, err := ingest(s, aci, ImportMeta{}); err != nil {
		t.Fatalf("ingesting a small image on a 64 MiB filesystem with the default limits: %v", err)
	}

	// Filled to under 5% free, the default floor refuses.
	fill := bytes.Repeat([]byte{1}, 62<<20)
	if err := os.WriteFile(filepath.Join(dir, "fill"), fill, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ingest(s, storetest.BuildACI(t, "example.com/small2", nil), ImportMeta{})
	var fe *FreeSpaceError
	if !errors.As(err, &fe) || fe.Floor != 64<<20/100*5 {
		t.Fatalf("ingesting on a filled filesystem: err = %v, want a *FreeSpaceError with a floor of 5%% of 64 MiB", err)
	}
	os.Remove(filepath.Join(dir, "fill"))

	// A configured 512 MiB floor holds as given, and says how to lower it.
	s.SetLimits(Limits{MinFreeBytes: 512 << 20})
	_, err = ingest(s, storetest.BuildACI(t, "example.com/small3", nil), ImportMeta{})
	if !errors.As(err, &fe) || fe.Floor != 512<<20 || !strings.Contains(err.Error(), `"minFreeSpace"`) {
		t.Fatalf("err = %v, want a *FreeSpaceError for 512 MiB naming minFreeSpace", err)
	}
}
