package run

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// overlayfs counts as available when the kernel lists it, or when it is a
// module of the running kernel that the first mount will load (a fresh
// Debian host), and not otherwise.
func TestOverlayAvailable(t *testing.T) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	release := unix.ByteSliceToString(u.Release[:])
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	listed := write("listed", "nodev\tsysfs\nnodev\toverlay\n")
	unlisted := write("unlisted", "nodev\tsysfs\n\text4\n")
	mods := filepath.Join(dir, "modules")
	noMods := filepath.Join(dir, "none")
	write("modules/"+release+"/modules.dep", "kernel/fs/ext4/ext4.ko.xz: kernel/fs/mbcache.ko.xz\nkernel/fs/overlayfs/overlay.ko.xz:\n")
	write("other/"+release+"/modules.dep", "kernel/fs/ext4/ext4.ko.xz:\n")
	for _, c := range []struct {
		fs, mods string
		want     bool
	}{
		{listed, noMods, true},
		{unlisted, mods, true},
		{unlisted, filepath.Join(dir, "other"), false},
		{unlisted, noMods, false},
		{filepath.Join(dir, "missing"), noMods, false},
	} {
		if got := overlayAvailable(c.fs, c.mods); got != c.want {
			t.Errorf("overlayAvailable(%s, %s) = %v, want %v", filepath.Base(c.fs), filepath.Base(c.mods), got, c.want)
		}
	}
}

func TestEscapeOverlay(t *testing.T) {
	for in, want := range map[string]string{
		"/plain":   "/plain",
		"/a:b,c":   `/a\:b\,c`,
		`/back\sl`: `/back\\sl`,
	} {
		if got := escapeOverlay(in); got != want {
			t.Errorf("escapeOverlay(%q) = %q, want %q", in, got, want)
		}
	}
}
