package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/appc/spec/schema/types"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage1/appexec"
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
	App      string // the app's name
	Rootfs   string // the app's rootfs, under Stage1
	ReadOnly bool   // readOnlyRootFS: remount the rootfs read-only once prepared
	Volumes  []volumeMount
	Console  bool // bind the pod's /dev/console (interactive)
	Hostname string
	Runtime  *podlayout.RuntimeConfig
	// Extra, when set, runs last, before the rootfs is made read-only.
	Extra func(root *os.Root) error
}

// mountAppLayers mounts the app's overlay rootfs from what the nspawn
// /init prepared for an overlay pod with --private-users: the app's image
// tree idmapped into the pod's user range at /rkt/layers/<app>, and the
// pod's overlay directory for it at /rkt/overlay/<app>. It runs in the
// pod's user namespace, so the overlay's own files (the upper dir, copy-ups)
// belong to the pod's root. Without those layers the rootfs is already in
// place and nothing is done.
func mountAppLayers(stage1, app, rootfs string) error {
	lower := filepath.Join(stage1, podlayout.InPodLayersDir, app)
	if _, err := os.Lstat(lower); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("mounting the app's rootfs: %w", err)
	}
	if err := podlayout.ValidAppName(app); err != nil {
		return fmt.Errorf("mounting the app's rootfs: %w", err)
	}
	od := filepath.Join(stage1, podlayout.InPodOverlayDir, app)
	opts := "lowerdir=" + lower + ",upperdir=" + filepath.Join(od, "upper", app) +
		",workdir=" + filepath.Join(od, "work", app) + ",userxattr"
	if err := unix.Mount("overlay", rootfs, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mounting the app's rootfs (overlay %s): %w", opts, err)
	}
	return nil
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
	if err := mountAppLayers(s.Stage1, s.App, s.Rootfs); err != nil {
		return err
	}
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

	if err := appexec.BindInto(root, "/proc", filepath.Join(s.Stage1, "proc"), true, false); err != nil {
		return err
	}
	if err := appexec.BindInto(root, "/sys", filepath.Join(s.Stage1, "sys"), true, true); err != nil {
		return err
	}
	if err := setupDev(root, s); err != nil {
		return err
	}
	if err := ensureTmp(root); err != nil {
		return err
	}
	if err := ensureMtab(root); err != nil {
		return err
	}
	if err := writeNameFiles(root, s); err != nil {
		return err
	}
	for _, v := range s.Volumes {
		src := filepath.Join(s.Stage1, podlayout.InPodVolumesDir, v.Volume)
		if err := appexec.BindInto(root, v.Target, src, v.Recursive, v.ReadOnly); err != nil {
			return fmt.Errorf("mounting volume %s: %w", v.Volume, err)
		}
	}
	if s.Extra != nil {
		if err := s.Extra(root); err != nil {
			return err
		}
	}
	if s.ReadOnly {
		if err := appexec.RemountReadOnly(s.Rootfs); err != nil {
			return fmt.Errorf("making the rootfs read-only: %w", err)
		}
	}
	return nil
}

// setupDev mounts a tmpfs on /dev with the basic nodes, a private devpts
// instance, /dev/shm and the usual symlinks.
func setupDev(root *os.Root, s rootfsSetup) error {
	if err := appexec.MountInto(root, "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=0755"); err != nil {
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
			if err := appexec.BindInto(root, "/dev/"+n.name, src, false, false); err != nil {
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
			if err := appexec.BindInto(root, "/dev/console", src, false, false); err != nil {
				return err
			}
		}
	}
	if err := appexec.MountInto(root, "/dev/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return err
	}
	if err := appexec.MountInto(root, "/dev/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
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
	rel, err := appexec.ResolveInRoot(root, "/tmp")
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

// ensureMtab links /etc/mtab to ../proc/self/mounts, as rkt 1.30 did, when
// the image has an /etc directory and nothing at /etc/mtab: mount(8) and
// df read it. An image without /etc gets none, and an image's own mtab
// stays.
func ensureMtab(root *os.Root) error {
	if fi, err := root.Stat("etc"); err != nil || !fi.IsDir() {
		return nil
	}
	if _, err := root.Lstat("etc/mtab"); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := root.Symlink("../proc/self/mounts", "etc/mtab"); err != nil {
		return fmt.Errorf("linking /etc/mtab to /proc/self/mounts: %w", err)
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
	case len(rc.DNS) == 1 && rc.DNS[0] == "none":
		// --dns=none: the app keeps the image's own file.
	case len(rc.DNS) == 1 && rc.DNS[0] == "host":
		var err error
		if resolv, err = os.ReadFile(filepath.Join(s.Stage1, podlayout.InPodHostResolvConf)); err != nil {
			return fmt.Errorf("writing /etc/resolv.conf for --dns=host: %w", err)
		}
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
	if rel, err := appexec.ResolveInRoot(root, "/etc/hosts"); err == nil {
		if fi, err := root.Stat(rel); err == nil && fi.Mode().IsRegular() {
			hasHosts = true
		}
	}
	if names, ok := rc.HostsEntries["host"]; ok && len(names) == 0 {
		// --hosts-entry=host: the host's own file, made by /init.
		hosts, err := os.ReadFile(filepath.Join(s.Stage1, podlayout.InPodHostHosts))
		if err != nil {
			return fmt.Errorf("writing /etc/hosts for --hosts-entry=host: %w", err)
		}
		return writeInRoot(root, "/etc/hosts", hosts)
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

// hostsFallback is rkt 1.30's default /etc/hosts, byte for byte (its
// stage1's etc/hosts-fallback).
const hostsFallback = `# This is the default rkt /etc/hosts
127.0.0.1 localhost localhost.domain localhost4 localhost4.localdomain4

::1 ip6-localhost ip6-loopback localhost6 localhost6.localdomain6
fe00::0 ip6-localnet
ff00::0 ip6-mcastprefix
ff02::1 ip6-allnodes
ff02::2 ip6-allrouters
ff02::3 ip6-allhosts
`

// hostsFile is the /etc/hosts an app gets when it has none or the pod has
// --hosts-entry, laid out as rkt 1.30 laid it out: the fallback, then the
// entries under "# Added by rkt run --hosts-entry" (sorted by address;
// rkt's order was random), with the pod's hostname appended to the first
// 127.0.0.1 line.
func hostsFile(hostname string, entries map[string][]string) string {
	text := hostsFallback
	if len(entries) > 0 {
		text += "\n\n# Added by rkt run --hosts-entry\n"
		ips := make([]string, 0, len(entries))
		for ip := range entries {
			ips = append(ips, ip)
		}
		sort.Strings(ips)
		for _, ip := range ips {
			text += fmt.Sprintf("%s %s\n", ip, strings.Join(entries[ip], " "))
		}
	}
	if hostname == "" {
		return text
	}
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "127.0.0.1" {
			lines[i] = strings.TrimSuffix(l, "\n") + " " + hostname + "\n"
			break
		}
	}
	return strings.Join(lines, "")
}

// writeInRoot replaces the file at p inside root (resolved with chroot
// semantics; a symlink in the final place is replaced, not followed).
func writeInRoot(root *os.Root, p string, data []byte) error {
	dir, err := appexec.ResolveInRoot(root, path.Dir(p))
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
		// As in rkt 1.30: the image's mount point of that name says
		// read-only or not, and the volume's readOnly, when it is set
		// (true or false), has the last word.
		for _, mp := range mountPoints {
			if mp.Name.String() == m.Volume {
				vm.ReadOnly = mp.ReadOnly
				break
			}
		}
		if v.ReadOnly != nil {
			vm.ReadOnly = *v.ReadOnly
		}
		if v.Recursive != nil && *v.Recursive {
			vm.Recursive = true
		}
		out = append(out, vm)
	}
	// As in rkt, an image mount point that no explicit mount covers is
	// filled by the pod volume of the same name.
	covered := map[string]bool{}
	for _, m := range mounts {
		covered[m.Volume] = true
		covered[path.Clean("/"+m.Path)] = true
	}
	for _, mp := range mountPoints {
		name := mp.Name.String()
		if covered[name] || covered[path.Clean("/"+mp.Path)] {
			continue
		}
		v, ok := byName[name]
		if !ok {
			continue
		}
		vm := volumeMount{Volume: name, Target: mp.Path, ReadOnly: mp.ReadOnly}
		if v.ReadOnly != nil {
			vm.ReadOnly = *v.ReadOnly // set on the volume: it wins, as above
		}
		if v.Recursive != nil && *v.Recursive {
			vm.Recursive = true
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
