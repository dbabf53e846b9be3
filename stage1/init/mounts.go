package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/appc/spec/schema/types"
	"github.com/rkt/rkt/common/podlayout"
)

// volumeMount is one pod volume bound into an app.
type volumeMount struct {
	Volume    string // name; its source is /rkt/volumes/<name> in the pod
	Target    string // absolute path inside the app
	ReadOnly  bool
	Recursive bool
}

// rootfsSetup is what prepareRootfs needs to know about an app and the pod.
type rootfsSetup struct {
	Stage1   string // the supervisor's root ("/" in a pod): sources of /proc, /sys, /dev nodes, volumes
	Rootfs   string // the app's rootfs, under Stage1
	ReadOnly bool   // readOnlyRootFS: remount the rootfs read-only once prepared
	Volumes  []volumeMount
	Console  bool // bind the pod's /dev/console (interactive)
	Hostname string
	Runtime  *podlayout.RuntimeConfig
	// Extra, when set, runs last, before the rootfs is made read-only.
	Extra func(root *os.Root) error
}

// devNodes are bound from the pod's /dev into every app's /dev (or made
// with mknod when the pod lacks one).
var devNodes = []struct {
	name         string
	major, minor uint32
}{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
	{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

// prepareRootfs mounts /proc, /sys (read-only), a fresh /dev, /tmp, the DNS
// and hosts files and the app's volumes into its rootfs. Every target is
// resolved inside the rootfs with chroot semantics (resolveInRoot) and
// created and opened through an os.Root, then mounted through its
// /proc/self/fd path, so a symlink in the image can never redirect a mount
// outside the app.
func prepareRootfs(s rootfsSetup) error {
	if s.ReadOnly {
		// The rootfs must be a mount of its own to be remounted read-only
		// at the end; the submounts below then sit on this bind.
		if err := unix.Mount(s.Rootfs, s.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("binding the rootfs onto itself: %w", err)
		}
	}
	root, err := os.OpenRoot(s.Rootfs)
	if err != nil {
		return fmt.Errorf("opening the app rootfs: %w", err)
	}
	defer root.Close()

	if err := bindInto(root, "/proc", filepath.Join(s.Stage1, "proc"), true, false); err != nil {
		return err
	}
	if err := bindInto(root, "/sys", filepath.Join(s.Stage1, "sys"), true, true); err != nil {
		return err
	}
	if err := setupDev(root, s); err != nil {
		return err
	}
	if err := ensureTmp(root); err != nil {
		return err
	}
	if err := writeNameFiles(root, s); err != nil {
		return err
	}
	for _, v := range s.Volumes {
		src := filepath.Join(s.Stage1, podlayout.InPodVolumesDir, v.Volume)
		if err := bindInto(root, v.Target, src, v.Recursive, v.ReadOnly); err != nil {
			return fmt.Errorf("mounting volume %s: %w", v.Volume, err)
		}
	}
	if s.Extra != nil {
		if err := s.Extra(root); err != nil {
			return err
		}
	}
	if s.ReadOnly {
		if err := remountReadOnly(s.Rootfs); err != nil {
			return fmt.Errorf("making the rootfs read-only: %w", err)
		}
	}
	return nil
}

// bindInto binds src (a path of the supervisor's) onto target inside root,
// creating the target as a directory or an empty file to match src.
func bindInto(root *os.Root, target, src string, recursive, readOnly bool) error {
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("binding %s: %w", target, err)
	}
	rel, err := resolveInRoot(root, target)
	if err != nil {
		return fmt.Errorf("binding %s: %w", target, err)
	}
	if rel == "." {
		return fmt.Errorf("binding %s: %w: the target is the rootfs itself", target, ErrEscapingPath)
	}
	f, err := openTarget(root, rel, fi.IsDir())
	if err != nil {
		return fmt.Errorf("binding %s: %w", target, err)
	}
	flags := uintptr(unix.MS_BIND)
	if recursive {
		flags |= unix.MS_REC
	}
	err = unix.Mount(src, fdPath(f), "", flags, "")
	f.Close()
	if err != nil {
		return fmt.Errorf("binding %s onto %s: %w", src, target, err)
	}
	if readOnly {
		// Reopen: the new mount now covers the target.
		g, err := root.Open(rel)
		if err != nil {
			return fmt.Errorf("binding %s: reopening: %w", target, err)
		}
		err = remountReadOnly(fdPath(g))
		g.Close()
		if err != nil {
			return fmt.Errorf("making %s read-only: %w", target, err)
		}
	}
	return nil
}

// mountInto mounts a file system of type fstype on directory target inside
// root.
func mountInto(root *os.Root, target, fstype string, flags uintptr, data string) error {
	rel, err := resolveInRoot(root, target)
	if err != nil {
		return fmt.Errorf("mounting %s on %s: %w", fstype, target, err)
	}
	f, err := openTarget(root, rel, true)
	if err != nil {
		return fmt.Errorf("mounting %s on %s: %w", fstype, target, err)
	}
	defer f.Close()
	if err := unix.Mount(fstype, fdPath(f), fstype, flags, data); err != nil {
		return fmt.Errorf("mounting %s on %s: %w", fstype, target, err)
	}
	return nil
}

func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// openTarget creates rel (already resolved, relative to root) as a
// directory or an empty file if missing, and opens it.
func openTarget(root *os.Root, rel string, dir bool) (*os.File, error) {
	if parent := path.Dir(rel); parent != "." {
		if err := root.MkdirAll(parent, 0o755); err != nil {
			return nil, err
		}
	}
	if dir {
		if err := root.Mkdir(rel, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		f, err := root.Open(rel)
		if err != nil {
			return nil, err
		}
		if fi, err := f.Stat(); err != nil || !fi.IsDir() {
			f.Close()
			return nil, fmt.Errorf("mount target %s: a directory is needed: %w", rel, syscall.ENOTDIR)
		}
		return f, nil
	}
	f, err := root.OpenFile(rel, os.O_RDONLY|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o644)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("mount target %s: a file is needed: %w", rel, syscall.EISDIR)
	}
	return f, nil
}

// maxSymlinks bounds symlink resolution, as the kernel's ELOOP does.
const maxSymlinks = 40

// resolveInRoot resolves p as the app will see it after chroot: absolute
// symlinks restart at the rootfs and ".." stops at it. It returns the
// resolved path relative to root ("." for the root itself); components
// that do not exist yet are kept as they are. The result is used through
// root, which refuses to leave the rootfs even if the image changes
// under us.
func resolveInRoot(root *os.Root, p string) (string, error) {
	pending := strings.Split(strings.Trim(p, "/"), "/")
	var done []string
	links := 0
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := strings.Join(append(done, c), "/")
		fi, err := root.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			done = append(done, c)
			continue
		}
		if err != nil {
			return "", fmt.Errorf("resolving %s in the app rootfs: %w", p, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		links++
		if links > maxSymlinks {
			return "", fmt.Errorf("resolving %s in the app rootfs: %w", p, syscall.ELOOP)
		}
		dest, err := root.Readlink(cur)
		if err != nil {
			return "", fmt.Errorf("resolving %s in the app rootfs: %w", p, err)
		}
		if strings.HasPrefix(dest, "/") {
			done = done[:0]
		}
		pending = append(strings.Split(strings.Trim(dest, "/"), "/"), pending...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return strings.Join(done, "/"), nil
}

// remountReadOnly makes the mount at target read-only, keeping its other
// flags (a bind remount must repeat nosuid, nodev, noexec).
func remountReadOnly(target string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return err
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
	for _, m := range []struct{ st, ms int64 }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if st.Flags&m.st != 0 {
			flags |= uintptr(m.ms)
		}
	}
	return unix.Mount("", target, "", flags, "")
}

// setupDev mounts a tmpfs on /dev with the basic nodes, a private devpts
// instance, /dev/shm and the usual symlinks.
func setupDev(root *os.Root, s rootfsSetup) error {
	if err := mountInto(root, "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=0755"); err != nil {
		return err
	}
	dev, err := root.OpenRoot("dev")
	if err != nil {
		return fmt.Errorf("opening the app's /dev: %w", err)
	}
	defer dev.Close()
	for _, n := range devNodes {
		src := filepath.Join(s.Stage1, "dev", n.name)
		if fi, err := os.Stat(src); err == nil && fi.Mode()&fs.ModeCharDevice != 0 {
			if err := bindInto(root, "/dev/"+n.name, src, false, false); err != nil {
				return err
			}
			continue
		}
		d, err := root.Open("dev")
		if err != nil {
			return fmt.Errorf("opening the app's /dev: %w", err)
		}
		err = unix.Mknodat(int(d.Fd()), n.name, unix.S_IFCHR|0o666, int(unix.Mkdev(n.major, n.minor)))
		d.Close()
		if err != nil {
			return fmt.Errorf("creating /dev/%s: %w", n.name, err)
		}
		if err := dev.Chmod(n.name, 0o666); err != nil {
			return fmt.Errorf("creating /dev/%s: %w", n.name, err)
		}
	}
	if s.Console {
		if src := filepath.Join(s.Stage1, "dev", "console"); exists(src) {
			if err := bindInto(root, "/dev/console", src, false, false); err != nil {
				return err
			}
		}
	}
	if err := mountInto(root, "/dev/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return err
	}
	if err := mountInto(root, "/dev/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return err
	}
	for name, target := range map[string]string{
		"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
	} {
		if err := dev.Symlink(target, name); err != nil {
			return fmt.Errorf("creating /dev/%s: %w", name, err)
		}
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// ensureTmp makes sure the app has a /tmp, world-writable and sticky when
// it had to be created.
func ensureTmp(root *os.Root) error {
	rel, err := resolveInRoot(root, "/tmp")
	if err != nil {
		return err
	}
	if _, err := root.Stat(rel); err == nil {
		return nil
	}
	if err := root.MkdirAll(rel, 0o755); err != nil {
		return fmt.Errorf("creating /tmp: %w", err)
	}
	if err := root.Chmod(rel, os.ModeSticky|0o777); err != nil {
		return fmt.Errorf("creating /tmp: %w", err)
	}
	return nil
}

// writeNameFiles writes /etc/resolv.conf from the runtime DNS settings (or
// copies the pod's when the pod shares the host's network and none is
// set) and /etc/hosts with localhost, the pod's hostname and the
// --hosts-entry entries, when there are entries or the app has none.
func writeNameFiles(root *os.Root, s rootfsSetup) error {
	rc := s.Runtime
	if rc == nil {
		rc = &podlayout.RuntimeConfig{}
	}
	var resolv []byte
	switch {
	case len(rc.DNS) > 0 || len(rc.DNSSearch) > 0 || len(rc.DNSOpt) > 0 || rc.DNSDomain != "":
		resolv = []byte(resolvConf(rc))
	case hasNet(rc.NetList, "host"):
		resolv, _ = os.ReadFile(filepath.Join(s.Stage1, "etc", "resolv.conf"))
	}
	if len(resolv) > 0 {
		if err := writeInRoot(root, "/etc/resolv.conf", resolv); err != nil {
			return err
		}
	}
	hasHosts := false
	if rel, err := resolveInRoot(root, "/etc/hosts"); err == nil {
		if fi, err := root.Stat(rel); err == nil && fi.Mode().IsRegular() {
			hasHosts = true
		}
	}
	if len(rc.HostsEntries) > 0 || !hasHosts {
		if err := writeInRoot(root, "/etc/hosts", []byte(hostsFile(s.Hostname, rc.HostsEntries))); err != nil {
			return err
		}
	}
	return nil
}

func hasNet(list []string, name string) bool {
	for _, n := range list {
		if n == name {
			return true
		}
	}
	return false
}

func resolvConf(rc *podlayout.RuntimeConfig) string {
	var b strings.Builder
	if len(rc.DNSSearch) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(rc.DNSSearch, " "))
	}
	if rc.DNSDomain != "" {
		fmt.Fprintf(&b, "domain %s\n", rc.DNSDomain)
	}
	for _, ns := range rc.DNS {
		fmt.Fprintf(&b, "nameserver %s\n", ns)
	}
	if len(rc.DNSOpt) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(rc.DNSOpt, " "))
	}
	return b.String()
}

func hostsFile(hostname string, entries map[string][]string) string {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n")
	b.WriteString("::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n")
	if hostname != "" {
		fmt.Fprintf(&b, "127.0.0.1\t%s\n", hostname)
	}
	ips := make([]string, 0, len(entries))
	for ip := range entries {
		ips = append(ips, ip)
	}
	sort.Strings(ips)
	for _, ip := range ips {
		fmt.Fprintf(&b, "%s\t%s\n", ip, strings.Join(entries[ip], " "))
	}
	return b.String()
}

// writeInRoot replaces the file at p inside root (resolved with chroot
// semantics; a symlink in the final place is replaced, not followed).
func writeInRoot(root *os.Root, p string, data []byte) error {
	dir, err := resolveInRoot(root, path.Dir(p))
	if err != nil {
		return err
	}
	rel := path.Join(dir, path.Base(p))
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if fi, err := root.Lstat(rel); err == nil && !fi.Mode().IsRegular() {
		if err := root.Remove(rel); err != nil {
			return fmt.Errorf("writing %s: replacing the old one: %w", p, err)
		}
	}
	if err := root.WriteFile(rel, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}

// appVolumes lists the volumes an app mounts, from the pod manifest's
// volumes and the app's mounts; readOnly is set by the volume or by the
// image's mount point of the same name.
func appVolumes(podVolumes []types.Volume, mounts []mountRef, mountPoints []types.MountPoint) ([]volumeMount, error) {
	byName := map[string]types.Volume{}
	for _, v := range podVolumes {
		byName[v.Name.String()] = v
	}
	var out []volumeMount
	for _, m := range mounts {
		v, ok := byName[m.Volume]
		if m.AppVolume != nil {
			v, ok = *m.AppVolume, true
		}
		if !ok {
			return nil, fmt.Errorf("mounting %s at %s: %w", m.Volume, m.Path, ErrUnknownVolume)
		}
		vm := volumeMount{Volume: v.Name.String(), Target: m.Path}
		if vm.Volume == "" {
			vm.Volume = m.Volume
		}
		if v.ReadOnly != nil && *v.ReadOnly {
			vm.ReadOnly = true
		}
		if v.Recursive != nil && *v.Recursive {
			vm.Recursive = true
		}
		for _, mp := range mountPoints {
			if mp.Name.String() == m.Volume && mp.ReadOnly {
				vm.ReadOnly = true
			}
		}
		out = append(out, vm)
	}
	return out, nil
}

// mountRef is a pod manifest mount (schema.Mount), decoupled for tests.
type mountRef struct {
	Volume    string
	Path      string
	AppVolume *types.Volume
}
