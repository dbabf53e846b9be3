package isolators

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// With envPathsHelper set, the test binary runs pathsHelper in the new
// mount namespace its parent gave it, printing one line per failed check.
const envPathsHelper = "RKT_ISOLATORS_TEST_PATHS"

func TestMain(m *testing.M) {
	if dir := os.Getenv(envPathsHelper); dir != "" {
		problems := pathsHelper(dir)
		for _, p := range problems {
			fmt.Println(p)
		}
		if len(problems) > 0 {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestApplyPathsInPrivateMountNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a mount namespace and mounts")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envPathsHelper+"="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("checks in the mount namespace failed (%v):\n%s", err, out)
	}
	// Nothing leaked into the test's own mount namespace.
	if isNull("/proc/kcore") {
		t.Fatal("/proc/kcore of the host is masked")
	}
}

func isNull(p string) bool {
	var st unix.Stat_t
	return unix.Stat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == unix.Mkdev(1, 3)
}

// makeRootfs makes dir/name with /proc and /sys mounted, as the supervisor
// mounts them into an app's rootfs.
func makeRootfs(dir, name string) (string, error) {
	root := filepath.Join(dir, name)
	for _, d := range []string{"proc", "sys"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return "", err
		}
	}
	if err := unix.Mount("proc", filepath.Join(root, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return "", fmt.Errorf("mounting proc: %w", err)
	}
	if err := unix.Mount("/sys", filepath.Join(root, "sys"), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return "", fmt.Errorf("binding sys: %w", err)
	}
	return root, nil
}

func pathsHelper(dir string) (problems []string) {
	fail := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return []string{"making / private: " + err.Error()}
	}
	root, err := makeRootfs(dir, "app")
	if err != nil {
		return []string{err.Error()}
	}
	if err := ApplyPaths(root, false); err != nil {
		return []string{"ApplyPaths: " + err.Error()}
	}
	in := func(p string) string { return filepath.Join(root, p) }

	// Masked files read as /dev/null, masked directories are empty and read-only.
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"} {
		if _, err := os.Lstat(in(p)); err == nil && !isNull(in(p)) {
			fail("%s is not masked by /dev/null", p)
		}
	}
	if b, err := os.ReadFile(in("/proc/keys")); err != nil || len(b) != 0 {
		fail("/proc/keys reads %d bytes (%v), want none", len(b), err)
	}
	if ents, err := os.ReadDir(in("/sys/firmware")); err != nil || len(ents) != 0 {
		fail("/sys/firmware lists %d entries (%v), want an empty directory", len(ents), err)
	}
	if err := os.WriteFile(in("/sys/firmware/x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		fail("creating a file in masked /sys/firmware: %v, want EROFS", err)
	}

	// Read-only paths refuse writes, and keep their content.
	for _, p := range []string{"/proc/sys/kernel/hostname", "/proc/sysrq-trigger"} {
		f, err := os.OpenFile(in(p), os.O_WRONLY, 0)
		if errors.Is(err, unix.ENOENT) {
			continue // the kernel has no such file (no magic SysRq here)
		}
		if err == nil {
			f.Close()
			fail("%s opens for writing", p)
		} else if !errors.Is(err, unix.EROFS) {
			fail("%s: %v, want EROFS", p, err)
		}
	}
	if b, err := os.ReadFile(in("/proc/sys/kernel/ostype")); err != nil || strings.TrimSpace(string(b)) != "Linux" {
		fail("/proc/sys/kernel/ostype reads %q (%v) through the read-only mount", b, err)
	}
	// The same files outside the rootfs are untouched.
	if f, err := os.OpenFile("/proc/sys/kernel/hostname", os.O_WRONLY, 0); err != nil {
		fail("the namespace's own /proc/sys became read-only: %v", err)
	} else {
		f.Close()
	}
	if isNull("/proc/kcore") {
		fail("the namespace's own /proc/kcore is masked")
	}

	// The fallback for kernels without open_tree/mount_setattr.
	classic, err := makeRootfs(dir, "classic")
	if err != nil {
		return append(problems, err.Error())
	}
	if rfd, err := unix.Open(classic, unix.O_PATH|unix.O_DIRECTORY, 0); err != nil {
		fail("opening %s: %v", classic, err)
	} else {
		fd, _, err := openBeneath(rfd, "/proc/sys")
		if err != nil {
			fail("opening /proc/sys beneath %s: %v", classic, err)
		} else if err := readonlyClassic(rfd, "/proc/sys", fd); err != nil {
			fail("readonlyClassic: %v", err)
		}
		if _, err := os.OpenFile(filepath.Join(classic, "proc/sys/kernel/hostname"), os.O_WRONLY, 0); !errors.Is(err, unix.EROFS) {
			fail("classic read-only /proc/sys: %v, want EROFS", err)
		}
	}

	// --insecure-options=paths: nothing is done.
	open, err := makeRootfs(dir, "insecure")
	if err != nil {
		return append(problems, err.Error())
	}
	if err := ApplyPaths(open, true); err != nil {
		fail("ApplyPaths insecure: %v", err)
	}
	if isNull(filepath.Join(open, "proc/kcore")) {
		fail("insecure rootfs has /proc/kcore masked")
	}
	if f, err := os.OpenFile(filepath.Join(open, "proc/sys/kernel/hostname"), os.O_WRONLY, 0); err != nil {
		fail("insecure rootfs /proc/sys not writable: %v", err)
	} else {
		f.Close()
	}

	// An image whose /proc is a symlink to the host's cannot make the
	// mounts land on the host.
	evil := filepath.Join(dir, "evil")
	if err := os.MkdirAll(evil, 0o755); err != nil {
		return append(problems, err.Error())
	}
	if err := os.Symlink("/proc", filepath.Join(evil, "proc")); err != nil {
		return append(problems, err.Error())
	}
	if err := ApplyPaths(evil, false); !errors.Is(err, ErrUnsafePath) {
		fail("ApplyPaths through a symlinked /proc: %v, want ErrUnsafePath", err)
	}
	if isNull("/proc/kcore") {
		fail("a symlinked /proc masked the namespace's own /proc/kcore")
	}
	return problems
}
