package tests

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The rkt group model (Documentation/running-under-systemd.md): a data dir
// laid out by dist/scripts/setup-data-dir.sh lets members of group rkt
// fetch, list, inspect and remove images and read pods without root, and
// members of group rkt-admin add trusted keys. Nothing rkt creates while
// any of them works may lock the others out.

// setupScript is the data dir set-up script of this checkout.
const setupScript = "../dist/scripts/setup-data-dir.sh"

// systemUser is a user made for one test with useradd and removed after it.
type systemUser struct {
	name string
	cred *syscall.Credential
}

// ensureGroup creates the system group name when missing and removes it
// after the test if it made it.
func ensureGroup(t *testing.T, name string) {
	t.Helper()
	if _, err := user.LookupGroup(name); err == nil {
		return
	}
	if b, err := exec.Command("groupadd", "--system", name).CombinedOutput(); err != nil {
		t.Skipf("cannot create group %s to test the rkt group model: %v\n%s", name, err, b)
	}
	t.Cleanup(func() {
		if b, err := exec.Command("groupdel", name).CombinedOutput(); err != nil {
			t.Errorf("removing group %s: %v\n%s", name, err, b)
		}
	})
}

// newSystemUser creates a system user without a home whose supplementary
// groups are groups, and returns it with the credentials of a login of it
// (uid, primary gid and every group it belongs to, as setpriv
// --init-groups gives).
func newSystemUser(t *testing.T, name string, groups ...string) systemUser {
	t.Helper()
	args := []string{"--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group"}
	if len(groups) > 0 {
		args = append(args, "--groups", strings.Join(groups, ","))
	}
	if b, err := exec.Command("useradd", append(args, name)...).CombinedOutput(); err != nil {
		t.Skipf("cannot create user %s to test the rkt group model: %v\n%s", name, err, b)
	}
	t.Cleanup(func() {
		if b, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("removing user %s: %v\n%s", name, err, b)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	gids, err := u.GroupIds()
	if err != nil {
		t.Fatal(err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	for _, g := range gids {
		n, _ := strconv.Atoi(g)
		cred.Groups = append(cred.Groups, uint32(n))
	}
	return systemUser{name: name, cred: cred}
}

// as returns a copy of e whose rkt runs as u.
func (e *env) as(u systemUser) *env {
	c := *e
	c.cred = u.cred
	c.binary = worldBinary(e.t)
	return &c
}

// useSharedDirs moves pe's data and configuration directories under
// base (a directory every test user can reach, as /var/lib/rkt and
// /etc/rkt are), trusts pe's key there and lays them out as
// setup-data-dir.sh does for group rkt.
func (pe *podEnv) useSharedDirs(base string) {
	t := pe.t
	t.Helper()
	pe.base = base
	pe.dataDir = filepath.Join(base, "data")
	pe.localConfig = filepath.Join(base, "etc")
	pe.systemConfig = filepath.Join(base, "lib")
	if err := os.MkdirAll(pe.systemConfig, 0o755); err != nil {
		t.Fatal(err)
	}
	pe.trustPrefix(pe.prefix(), pe.key)
	if b, err := exec.Command("sh", setupScript, pe.dataDir, pe.localConfig).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", setupScript, err, b)
	}
}

// TestGroupMembersUseTheStore: a member of group rkt fetches, lists,
// inspects and removes images and reads pods (image gc is refused); root
// runs pods from what the member fetched; the member goes on working; a
// member of rkt-admin adds a trusted key and a member of rkt alone cannot.
func TestGroupMembersUseTheStore(t *testing.T) {
	// Directories every test user can reach, as /var/lib/rkt and /etc/rkt
	// are, removed after the pod env's teardown (cleanups run last first).
	base := worldDir(t, "group-")
	pe := newPodEnv(t)
	ensureGroup(t, "rkt")
	ensureGroup(t, "rkt-admin")
	tag := strconv.Itoa(os.Getpid())
	member := newSystemUser(t, "rktt-m"+tag, "rkt")
	admin := newSystemUser(t, "rktt-a"+tag, "rkt", "rkt-admin")

	pe.useSharedDirs(base)
	m := pe.env.as(member)

	first := pe.shImage("first", "echo first-ran")
	second := pe.shImage("second", "echo second-ran")

	// The member fetches and inspects.
	firstID := m.fetchID(first)
	if out := m.ok("image", "list", "--no-legend", "--fields=id,name"); !strings.Contains(out, pe.name("first")) {
		t.Errorf("image list as a member of rkt does not show %s:\n%s", pe.name("first"), out)
	}
	if out := m.ok("image", "cat-manifest", firstID); !strings.Contains(out, pe.name("first")) {
		t.Errorf("image cat-manifest as a member of rkt:\n%s", out)
	}
	assertShared(t, pe.dataDir, "after a member's fetch")

	// Root runs a pod from it.
	uuid, out, stderr, code := pe.runSaved("--pull-policy=never", pe.name("first"))
	if code != 0 || !hasLine(out, "first-ran") {
		t.Fatalf("root's run of the image a member fetched: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}
	assertShared(t, pe.dataDir, "after root's run")

	// The member reads the pod and goes on with the store.
	if out := m.ok("list", "--no-legend"); !strings.Contains(out, uuid[:8]) {
		t.Errorf("list as a member of rkt does not show pod %s:\n%s", uuid, out)
	}
	if st := m.ok("status", uuid); !strings.Contains(st, "state=exited") {
		t.Errorf("status as a member of rkt:\n%s", st)
	}
	secondID := m.fetchID(second)
	m.ok("image", "rm", firstID)
	assertShared(t, pe.dataDir, "after a member's fetch and image rm")

	// Root runs the second image, the member removes it, fetches it again.
	if out, stderr, code := pe.run("--pull-policy=never", pe.name("second")); code != 0 || !hasLine(out, "second-ran") {
		t.Fatalf("root's run of the second image: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}
	m.ok("image", "rm", secondID)
	if id := m.fetchID(second); id != secondID {
		t.Errorf("the member's second fetch gave %s, want %s", id, secondID)
	}
	// The store holds the second image and root's stage1, not the first.
	ids := m.imageIDs()
	has := func(id string) bool {
		return slices.ContainsFunc(ids, func(full string) bool { return strings.HasPrefix(full, id) })
	}
	if !has(secondID) || has(firstID) {
		t.Errorf("image list as a member after the last fetch: %v, want %s and not %s", ids, secondID, firstID)
	}
	// image gc is root's: it removes trees. As in rkt 1.30, a member gets
	// permission denied, and the images stay.
	if _, stderr := m.fails(254, "image", "gc"); !strings.Contains(stderr, "permission denied") {
		t.Errorf("image gc by a member of rkt: want permission denied, got:\n%s", stderr)
	}
	if ids = m.imageIDs(); !slices.ContainsFunc(ids, func(full string) bool { return strings.HasPrefix(full, secondID) }) {
		t.Errorf("image gc by a member removed %s: %v", secondID, ids)
	}
	assertShared(t, pe.dataDir, "at the end")

	// Trust: rkt-admin may, rkt alone may not.
	keyFile := pe.write("admin.asc", newKey(t).ArmoredPublic(t))
	// A prefix of its own: the test's prefix dir is root's, mode 0755.
	prefix := "admin.localhost/" + pe.slug
	if _, stderr := m.fails(254, "trust", "--prefix", prefix, "--skip-fingerprint-review", keyFile); !strings.Contains(stderr, "permission denied") {
		t.Errorf("rkt trust by a member of rkt but not rkt-admin: want permission denied, got:\n%s", stderr)
	}
	pe.env.as(admin).ok("trust", "--prefix", prefix, "--skip-fingerprint-review", keyFile)
	if out := m.ok("trust", "--list"); !strings.Contains(out, prefix) {
		t.Errorf("the key a member of rkt-admin trusted is not listed:\n%s", out)
	}
}

// assertShared fails the test for each directory or file of the data dir
// (rendered trees and pods' insides aside: those are root's) that the
// group rkt cannot use as setup-data-dir.sh made it: directories setgid,
// group rkt, group-writable except where the script makes them 2750 or
// 2700; files group rkt and group-readable, writable where rkt writes.
func assertShared(t *testing.T, dataDir, when string) {
	t.Helper()
	g, err := user.LookupGroup("rkt")
	if err != nil {
		t.Fatal(err)
	}
	gid, _ := strconv.Atoi(g.Gid)
	rootOnly := map[string]bool{"cas/tree": true, "cas/treestorelocks": true}
	readOnly := map[string]bool{".": true, "pods": true}
	err = filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dataDir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode()
		var bad []string
		if int(st.Gid) != gid {
			bad = append(bad, fmt.Sprintf("group %d, not rkt", st.Gid))
		}
		switch {
		case fi.IsDir():
			if mode&fs.ModeSetgid == 0 {
				bad = append(bad, "not setgid")
			}
			want := fs.FileMode(0o070)
			if readOnly[rel] || strings.HasPrefix(rel, "pods/") {
				want = 0o050
			}
			if rootOnly[rel] {
				want = 0
			}
			if mode.Perm()&0o070 != want {
				bad = append(bad, fmt.Sprintf("group bits %o, want %o", mode.Perm()&0o070>>3, want>>3))
			}
		case mode.IsRegular():
			if mode.Perm()&0o060 != 0o060 {
				bad = append(bad, fmt.Sprintf("mode %o, not group-writable", mode.Perm()))
			}
		}
		if len(bad) > 0 {
			t.Errorf("%s: %s (%s): %s", when, rel, mode, strings.Join(bad, ", "))
		}
		if fi.IsDir() && (rootOnly[rel] || strings.Count(rel, "/") == 2 && strings.HasPrefix(rel, "pods/")) {
			return filepath.SkipDir // root's: trees, and pods' insides
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: walking %s: %v", when, dataDir, err)
	}
}
