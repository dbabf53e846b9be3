package appexec

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/appc/spec/schema/types"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func openRoot(t *testing.T, dir string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

const testPasswd = `root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:1000:1001:App:/home/app:/bin/ash
broken:x:notanumber:1::/:/bin/sh
`

const testGroup = `root:x:0:
grp:x:1001:app
wheel:x:10:app,root
`

func TestResolveIdentity(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"etc/passwd": testPasswd, "etc/group": testGroup, "srv/owned": ""})
	if err := os.Chown(filepath.Join(dir, "srv/owned"), 4242, 4343); err != nil {
		t.Fatal(err)
	}
	root := openRoot(t, dir)
	tests := []struct {
		user, group string
		supp        []int
		want        Identity
		err         error
	}{
		{"", "", nil, Identity{UID: 0, GID: 0, Name: "root", Home: "/root", Shell: "/bin/sh"}, nil},
		{"app", "grp", []int{10, 20}, Identity{UID: 1000, GID: 1001, Groups: []uint32{10, 20}, Name: "app", Home: "/home/app", Shell: "/bin/ash"}, nil},
		{"app", "", nil, Identity{UID: 1000, GID: 1001, Name: "app", Home: "/home/app", Shell: "/bin/ash"}, nil},
		{"1000", "10", nil, Identity{UID: 1000, GID: 10, Name: "app", Home: "/home/app", Shell: "/bin/ash"}, nil},
		{"5000", "5001", nil, Identity{UID: 5000, GID: 5001}, nil},
		{"daemon", "wheel", nil, Identity{UID: 1, GID: 10, Name: "daemon", Home: "/usr/sbin", Shell: "/usr/sbin/nologin"}, nil},
		{"/srv/owned", "/srv/owned", nil, Identity{UID: 4242, GID: 4343}, nil},
		{"nobody", "grp", nil, Identity{}, ErrUnknownUser},
		{"broken", "grp", nil, Identity{}, ErrUnknownUser},
		{"app", "nogroup", nil, Identity{}, ErrUnknownGroup},
		{"app", "grp", []int{-1}, Identity{}, errors.New("out of range")},
	}
	for _, tt := range tests {
		t.Run(tt.user+":"+tt.group, func(t *testing.T) {
			got, err := ResolveIdentity(root, tt.user, tt.group, tt.supp)
			if tt.err != nil {
				if err == nil || (!errors.Is(err, tt.err) && !strings.Contains(err.Error(), tt.err.Error())) {
					t.Fatalf("got %v, %v; want error %v", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestResolveIdentityNoEtc(t *testing.T) {
	root := openRoot(t, t.TempDir())
	got, err := ResolveIdentity(root, "0", "0", nil)
	if err != nil || got.UID != 0 || got.GID != 0 || got.Name != "" {
		t.Fatalf("got %+v, %v", got, err)
	}
	if _, err := ResolveIdentity(root, "app", "0", nil); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("got %v, want ErrUnknownUser", err)
	}
	// "root" is 0 without an /etc/passwd or /etc/group, as in rkt 1.30.
	got, err = ResolveIdentity(root, "root", "root", nil)
	if err != nil || got.UID != 0 || got.GID != 0 {
		t.Fatalf("root:root without /etc: got %+v, %v; want 0:0", got, err)
	}
}

// An image whose /etc/passwd is an absolute symlink is read as the app
// would read it: inside its own rootfs, never the supervisor's.
func TestResolveIdentityAbsoluteSymlink(t *testing.T) {
	outer := t.TempDir()
	writeFiles(t, outer, map[string]string{"etc/passwd": "evil:x:0:0::/:/bin/sh\n"})
	dir := filepath.Join(outer, "rootfs")
	writeFiles(t, dir, map[string]string{"usr/share/passwd": "app:x:77:78::/:/bin/sh\n"})
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	if err := os.Symlink("/usr/share/passwd", filepath.Join(dir, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	root := openRoot(t, dir)
	got, err := ResolveIdentity(root, "app", "", nil)
	if err != nil || got.UID != 77 || got.GID != 78 {
		t.Fatalf("got %+v, %v; want uid 77 gid 78 from the image's own file", got, err)
	}
	if _, err := ResolveIdentity(root, "evil", "", nil); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("got %v: a user from outside the rootfs was found", err)
	}
}

func TestResolveInRoot(t *testing.T) {
	outer := t.TempDir()
	dir := filepath.Join(outer, "rootfs")
	for _, d := range []string{"usr/lib", "run", "a/b"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	links := map[string]string{
		"var":     "usr",               // relative
		"abs":     "/usr/lib",          // absolute: restarts at the rootfs
		"up":      "../../../../../..", // climbs: stops at the rootfs
		"a/b/rel": "../../run",
		"loop1":   "loop2",
		"loop2":   "loop1",
		"esc":     "/../" + filepath.Base(outer) + "/x",
	}
	for name, dest := range links {
		if err := os.Symlink(dest, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	root := openRoot(t, dir)
	tests := map[string]string{
		"/":                 ".",
		"/usr/lib":          "usr/lib",
		"/var/lib/x":        "usr/lib/x",
		"/abs/y":            "usr/lib/y",
		"/up":               ".",
		"/up/etc/passwd":    "etc/passwd",
		"/../../etc":        "etc",
		"/a/b/rel/notify":   "run/notify",
		"/new/dir/":         "new/dir",
		"/esc":              filepath.Base(outer) + "/x",
		"relative/./x/../y": "relative/y",
	}
	for in, want := range tests {
		got, err := ResolveInRoot(root, in)
		if err != nil || got != want {
			t.Errorf("ResolveInRoot(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ResolveInRoot(root, "/loop1/x"); err == nil {
		t.Errorf("a symlink loop resolved")
	}
}

func TestMergeApp(t *testing.T) {
	img := &types.App{
		Exec: types.Exec{"/bin/img"}, User: "0", Group: "0", WorkingDirectory: "/img",
		Environment:   types.Environment{{Name: "A", Value: "1"}},
		EventHandlers: []types.EventHandler{{Name: "pre-start", Exec: types.Exec{"/pre"}}},
	}
	app, ie, pe := MergeApp(img, nil)
	if app.Exec[0] != "/bin/img" || len(ie) != 1 || pe != nil {
		t.Fatalf("%+v %v %v", app, ie, pe)
	}
	pod := &types.App{Exec: types.Exec{"/bin/pod", "x"}, User: "app", SupplementaryGIDs: []int{5},
		Environment: types.Environment{{Name: "B", Value: "2"}}}
	app, ie, pe = MergeApp(img, pod)
	if !reflect.DeepEqual([]string(app.Exec), []string{"/bin/pod", "x"}) || app.User != "app" || app.Group != "0" ||
		app.WorkingDirectory != "/img" || !reflect.DeepEqual(app.SupplementaryGIDs, []int{5}) ||
		len(app.EventHandlers) != 1 || ie[0].Name != "A" || pe[0].Name != "B" {
		t.Fatalf("%+v %v %v", app, ie, pe)
	}
}

// A mount target reached through an absolute symlink in the image lands
// inside the rootfs, never at the host path the symlink names.
func TestBindIntoFollowsSymlinksInsideTheRootfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("binding needs root (mount(2))")
	}
	outer := t.TempDir()
	rootfs := filepath.Join(outer, "rootfs")
	hostDir := filepath.Join(outer, "host")
	src := filepath.Join(outer, "src")
	writeFiles(t, src, map[string]string{"marker": "from the volume"})
	if err := os.MkdirAll(filepath.Join(rootfs, "usr"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(hostDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// /data -> <outer>/host: read with chroot semantics, it is
	// <rootfs>/<outer>/host.
	if err := os.Symlink(hostDir, filepath.Join(rootfs, "data")); err != nil {
		t.Fatal(err)
	}
	root := openRoot(t, rootfs)
	if err := BindInto(root, "/data/vol", src, false, true); err != nil {
		t.Fatal(err)
	}
	inside := filepath.Join(rootfs, hostDir, "vol")
	t.Cleanup(func() { unmount(t, inside) })
	got, err := os.ReadFile(filepath.Join(inside, "marker"))
	if err != nil || string(got) != "from the volume" {
		t.Fatalf("reading the bound volume inside the rootfs: %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(hostDir, "vol")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the host path the symlink names was touched: %v", err)
	}
	if err := os.WriteFile(filepath.Join(inside, "new"), nil, 0o644); err == nil {
		t.Error("a read-only bind is writable")
	}
	if err := BindInto(root, "/", src, false, false); !errors.Is(err, ErrEscapingPath) {
		t.Errorf("binding onto the rootfs itself: got %v, want ErrEscapingPath", err)
	}
}

func TestMountIntoMakesTheTarget(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root (mount(2))")
	}
	rootfs := t.TempDir()
	root := openRoot(t, rootfs)
	if err := MountInto(root, "/run/x", "tmpfs", 0, "mode=0700"); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(rootfs, "run", "x")
	t.Cleanup(func() { unmount(t, target) })
	fi, err := os.Stat(target)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("stat of the tmpfs root: %v, %v; want mode 0700", fi, err)
	}
}

func unmount(t *testing.T, p string) {
	t.Helper()
	if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil {
		t.Errorf("unmounting %s: %v", p, err)
	}
}
