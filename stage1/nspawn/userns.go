package main

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"

	"github.com/appc/spec/schema"
	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/podlayout"
)

// A pod with --private-users runs in a user namespace of its own, with
// 65536 ids starting at a base picked by /init (not by nspawn: /init must
// know it to give the pod's root its cgroups). An overlay pod's apps get
// their images idmapped into the range (layers.go); a --no-overlay pod's
// copied rootfs is shifted by nspawn (--private-users-ownership=auto: an
// idmapped mount where the kernel and the file system allow one, else a
// recursive chown).
const (
	usernsSize = 0x10000
	// The bases picked from, as systemd-nspawn's "pick" does: above the
	// ids of ordinary users and below the ones systemd reserves.
	usernsFirst = 0x00080000
	usernsLast  = 0x6FFF0000
	// usernsLockDir holds one lock file per base in use: flock'ed by the
	// pod's nspawn process for the pod's life.
	usernsLockDir = "/run/rkt/userns"
)

// userNS is the id range of a pod.
type userNS struct {
	base int
	lock *os.File // held (not close-on-exec) by nspawn until the pod exits
}

// pickUserNS takes the first free base, starting at one derived from the
// pod's UUID, and holds its lock.
func pickUserNS(uuid string) (*userNS, error) {
	if err := os.MkdirAll(usernsLockDir, 0o755); err != nil {
		return nil, fmt.Errorf("picking a user id range: %w", err)
	}
	n := (usernsLast - usernsFirst) / usernsSize
	h := fnv.New32a()
	h.Write([]byte(uuid))
	start := int(h.Sum32() % uint32(n))
	for i := 0; i < n; i++ {
		base := usernsFirst + ((start+i)%n)*usernsSize
		f, err := os.OpenFile(filepath.Join(usernsLockDir, strconv.Itoa(base)), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("picking a user id range: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				continue
			}
			return nil, fmt.Errorf("picking a user id range: locking %s: %w", f.Name(), err)
		}
		if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFD, 0); err != nil {
			f.Close()
			return nil, fmt.Errorf("picking a user id range: %w", err)
		}
		return &userNS{base: base, lock: f}, nil
	}
	return nil, errors.New("picking a user id range: every range is in use")
}

// nspawnFlag is nspawn's --private-users for the range.
func (u *userNS) nspawnFlag() string {
	return "--private-users=" + strconv.Itoa(u.base) + ":" + strconv.Itoa(usernsSize)
}

// chownCgroups lets the pod's root, an unprivileged id on the host, move
// processes into the apps' cgroups: the pod cgroup's and every app
// cgroup's cgroup.procs, and on cgroup v1 their tasks (the supervisor
// moves a single thread), are given to the range's base id (on cgroup v2
// a move needs write access to the common ancestor's cgroup.procs too).
func (u *userNS) chownCgroups(pc *podCgroups, apps []string) error {
	for _, dir := range pc.pod.Dirs() {
		for _, sub := range append([]string{""}, apps...) {
			for _, f := range []string{"cgroup.procs", "tasks"} {
				p := filepath.Join(dir, sub, f)
				if err := os.Chown(p, u.base, u.base); err != nil && !errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("giving %s to the pod's root: %w", p, err)
				}
			}
		}
	}
	return nil
}

// chownEmptyVolumes shifts the pod's empty volumes into the range: stage0
// made them with the owner the manifest gives, an id of the pod's, which
// the pod's user namespace shows as nobody until it is shifted.
func (u *userNS) chownEmptyVolumes(pod string, pm *schema.PodManifest) error {
	for _, v := range pm.Volumes {
		if v.Kind != "empty" {
			continue
		}
		name := v.Name.String()
		if err := podlayout.ValidAppName(name); err != nil {
			return fmt.Errorf("giving volume %q to the pod's users: %w", name, err)
		}
		dir := podlayout.SharedVolumeDir(pod, name)
		var st unix.Stat_t
		if err := unix.Lstat(dir, &st); err != nil {
			return fmt.Errorf("giving volume %q to the pod's users: %w", name, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("giving volume %q to the pod's users: %s is not a directory", name, dir)
		}
		if st.Uid >= usernsSize || st.Gid >= usernsSize {
			continue // shifted already
		}
		if err := os.Lchown(dir, u.base+int(st.Uid), u.base+int(st.Gid)); err != nil {
			return fmt.Errorf("giving volume %q to the pod's users: %w", name, err)
		}
		// chown may clear the set-id bits; the manifest's mode stands.
		if err := unix.Chmod(dir, st.Mode&0o7777); err != nil {
			return fmt.Errorf("giving volume %q to the pod's users: %w", name, err)
		}
	}
	return nil
}
