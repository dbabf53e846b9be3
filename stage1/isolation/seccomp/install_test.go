package seccomp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The test binary doubles as the confined child: with envChild set, TestMain
// runs child instead of the tests.
const (
	envChild   = "RKT_SECCOMP_TEST_CHILD"   // "probe" or "exec"
	envProfile = "RKT_SECCOMP_TEST_PROFILE" // JSON Profile
	envArgs    = "RKT_SECCOMP_TEST_ARGS"    // probe: syscall names; exec: argv (JSON)
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envChild); mode != "" {
		if err := child(mode); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// probes call syscalls with arguments that are harmless (or invalid) when
// let through, so that only the filter decides the outcome.
var probes = map[string]func() error{
	"getpid": func() error { return rawErr(unix.SYS_GETPID) },
	"keyctl": func() error {
		return rawErr(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(0xfffffffd) /* session */, 0)
	},
	"reboot": func() error { return rawErr(unix.SYS_REBOOT, 0, 0, 0, 0) }, // bad magic: EINVAL if let through
	"bpf":    func() error { return rawErr(unix.SYS_BPF, ^uintptr(0), 0, 0) },
	"unshare": func() error {
		return rawErr(unix.SYS_UNSHARE, 0)
	},
	"kexec_load": func() error { return rawErr(unix.SYS_KEXEC_LOAD, 0, 0, 0, ^uintptr(0)) }, // bad flags
	"socket": func() error {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err
	},
	"fchmodat": func() error {
		p, _ := unix.BytePtrFromString("/proc/self/status")
		return rawErr(unix.SYS_FCHMODAT, atFDCWD, uintptr(unsafe.Pointer(p)), 0o444)
	},
	"clone3": func() error { return rawErr(unix.SYS_CLONE3, 0, 0) }, // NULL args: EINVAL/EFAULT if let through
}

func rawErr(nr uintptr, args ...uintptr) error {
	var a [6]uintptr
	copy(a[:], args)
	_, _, e := unix.RawSyscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
	if e != 0 {
		return e
	}
	return nil
}

func child(mode string) error {
	var p Profile
	if err := json.Unmarshal([]byte(os.Getenv(envProfile)), &p); err != nil {
		return err
	}
	f, err := Compile(p)
	if err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	switch mode {
	case "probe":
		if err := Install(f); err != nil {
			return err
		}
		for _, name := range strings.Split(os.Getenv(envArgs), ",") {
			res := "ok"
			if err := probes[name](); err != nil {
				res = unix.ErrnoName(err.(unix.Errno))
			}
			fmt.Printf("%s=%s\n", name, res)
		}
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return err
		}
		os.Stdout.Write(status)
		return nil
	case "exec":
		var argv []string
		if err := json.Unmarshal([]byte(os.Getenv(envArgs)), &argv); err != nil {
			return err
		}
		return InstallAndExec(f, argv[0], argv, []string{"PATH=/bin"})
	}
	return fmt.Errorf("unknown mode %q", mode)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("installing filters as this test does needs root (the probes compare with root's results)")
	}
}

func runChild(t *testing.T, mode string, p Profile, args string) (string, error) {
	t.Helper()
	pj, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+mode, envProfile+"="+string(pj), envArgs+"="+args)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%w: %s", err, stderr.String())
	}
	return string(out), nil
}

func parseProbe(out string) map[string]string {
	m := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			m[k] = v
		} else if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func TestInstallDeniesWithErrno(t *testing.T) {
	requireRoot(t)
	cases := []struct {
		name string
		p    Profile
		want map[string]string
	}{
		{"default", Profile{Mode: ModeDefault}, map[string]string{
			"getpid": "ok", "socket": "ok", "keyctl": "EPERM", "reboot": "EPERM", "bpf": "EPERM",
			"unshare": "EPERM", "kexec_load": "EPERM", "clone3": "EINVAL",
		}},
		{"remove chmod with EACCES", Profile{Mode: ModeRemove, Syscalls: []string{"chmod", "fchmodat"}, Errno: "EACCES"}, map[string]string{
			"getpid": "ok", "fchmodat": "EACCES", "keyctl": "EPERM", "unshare": "ok",
		}},
		{"retain the default whitelist", Profile{Mode: ModeRetain, Syscalls: []string{"@rkt/default-whitelist"}, Errno: "ENOTSUP"}, map[string]string{
			"getpid": "ok", "socket": "ok", "keyctl": "EPERM",
		}},
		{"retain all but socket", Profile{Mode: ModeRetain, Syscalls: withoutSocket, Errno: "ENOTSUP"}, map[string]string{
			"getpid": "ok", "socket": "ENOTSUP", "keyctl": "EPERM", "clone3": "ENOSYS",
		}},
		{"remove network", Profile{Mode: ModeRemove, Syscalls: []string{"@systemd/network-io"}, Errno: "EAFNOSUPPORT"}, map[string]string{
			"getpid": "ok", "socket": "EAFNOSUPPORT",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var names []string
			for n := range c.want {
				names = append(names, n)
			}
			out, err := runChild(t, "probe", c.p, strings.Join(names, ","))
			if err != nil {
				t.Fatal(err)
			}
			got := parseProbe(out)
			for n, w := range c.want {
				if got[n] != w {
					t.Errorf("%s: %s, want %s", n, got[n], w)
				}
			}
			if got["Seccomp"] != "2" || got["NoNewPrivs"] != "1" {
				t.Errorf("/proc/self/status: Seccomp %q NoNewPrivs %q, want 2 and 1", got["Seccomp"], got["NoNewPrivs"])
			}
		})
	}
}

// withoutSocket is the default profile's allow-list without socket and clone3.
var withoutSocket = func() []string {
	names, err := Allowed(Profile{})
	if err != nil {
		panic(err)
	}
	var out []string
	for _, n := range names {
		if n != "socket" && n != "clone3" {
			out = append(out, n)
		}
	}
	return out
}()

func busybox(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("no busybox to exec")
	return ""
}

func TestInstallAndExec(t *testing.T) {
	requireRoot(t)
	bb := busybox(t)
	argv, _ := json.Marshal([]string{bb, "cat", "/proc/self/status"})

	out, err := runChild(t, "exec", Profile{Mode: ModeDefault}, string(argv))
	if err != nil {
		t.Fatal(err)
	}
	st := parseProbe(out)
	if st["Seccomp"] != "2" || st["NoNewPrivs"] != "1" {
		t.Errorf("app's status: Seccomp %q NoNewPrivs %q", st["Seccomp"], st["NoNewPrivs"])
	}

	// A remove set with open and an errno: cat gets the errno.
	p := Profile{Mode: ModeRemove, Syscalls: []string{"open", "openat", "openat2"}, Errno: "EACCES"}
	out, err = runChild(t, "exec", p, string(argv))
	if err == nil {
		t.Fatalf("cat ran with open removed: %s", out)
	}
	if !strings.Contains(err.Error(), "Permission denied") {
		t.Errorf("cat with open removed: %v, want permission denied", err)
	}

	// The same set without an errno: the app is killed by SIGSYS.
	p.Errno = ""
	_, err = runChild(t, "exec", p, string(argv))
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("cat with open removed, no errno: %v", err)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != unix.SIGSYS {
		t.Errorf("cat with open removed, no errno: %v, want killed by SIGSYS", ee)
	}
}

// atFDCWD is AT_FDCWD (-100) as a syscall argument.
var atFDCWD = func() uintptr { fd := unix.AT_FDCWD; return uintptr(fd) }()
