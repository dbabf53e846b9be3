package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/entrypoint"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/common/stage1cmd"
)

// inPodSelf is this binary's path inside the pod.
const inPodSelf = "/nspawn-stage1"

// runEnter joins the namespaces of the pod's PID 1 and runs CMD in the
// app's rootfs. Go cannot join a mount namespace from a multi-threaded
// process, so the host's nsenter does the joining and then runs this
// binary inside the pod in its enter-app mode, which chroots into the app
// and execs CMD with the app's environment.
func runEnter(args []string) error {
	ea, err := entrypoint.ParseEnterArgs(args)
	if err != nil {
		return err
	}
	if err := podlayout.ValidAppName(ea.AppName); err != nil {
		return fmt.Errorf("entering the pod: %w", err)
	}
	if len(ea.Cmd) == 0 {
		return errors.New("entering the pod: no command given")
	}
	nsenter, err := stage1cmd.FindTool("nsenter", ErrNoNsenter)
	if err != nil {
		return fmt.Errorf("entering app %q: %w", ea.AppName, err)
	}
	argv := []string{nsenter, "--target", strconv.Itoa(ea.Pid),
		"--mount", "--uts", "--ipc", "--net", "--pid", "--root", "--wd",
		"--", inPodSelf, "enter-app", ea.AppName, "--"}
	argv = append(argv, ea.Cmd...)
	if err := unix.Exec(nsenter, argv, os.Environ()); err != nil {
		return fmt.Errorf("entering app %q: executing %s: %w", ea.AppName, nsenter, err)
	}
	return nil
}

// runEnterApp runs inside the pod (root = the stage1 rootfs): it chroots
// into /opt/stage2/<app>/rootfs and execs CMD with the environment the
// supervisor recorded in /rkt/env/<app>.
func runEnterApp(args []string) error {
	if len(args) < 3 || args[1] != "--" {
		return errors.New("usage: enter-app NAME -- CMD [ARGS...]")
	}
	app, cmd := args[0], args[2:]
	if err := podlayout.ValidAppName(app); err != nil {
		return fmt.Errorf("entering the app: %w", err)
	}
	env, err := readEnvFile(filepath.Join(podlayout.InPodEnvDir, app))
	if err != nil {
		return fmt.Errorf("entering app %q: %w", app, err)
	}
	root := filepath.Join(podlayout.InPodAppsDir, app, "rootfs")
	if err := unix.Chroot(root); err != nil {
		return fmt.Errorf("entering app %q: chroot %s: %w", app, root, err)
	}
	if err := os.Chdir("/"); err != nil {
		return fmt.Errorf("entering app %q: %w", app, err)
	}
	path := cmd[0]
	if !strings.Contains(path, "/") {
		if p, err := lookPathIn(path, envValue(env, "PATH")); err == nil {
			path = p
		} else {
			return fmt.Errorf("entering app %q: %w", app, err)
		}
	}
	if err := unix.Exec(path, cmd, env); err != nil {
		return fmt.Errorf("entering app %q: executing %s: %w", app, cmd[0], err)
	}
	return nil
}

// readEnvFile reads KEY=VALUE lines; a missing file gives rkt's default
// PATH only.
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return []string{"PATH=" + defaultPath}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the app environment: %w", err)
	}
	defer f.Close()
	var env []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.Contains(line, "=") {
			env = append(env, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the app environment: %w", err)
	}
	if envValue(env, "PATH") == "" {
		env = append(env, "PATH="+defaultPath)
	}
	return env, nil
}

// defaultPath is rkt's default PATH for apps.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// lookPathIn finds an executable named file in the colon-separated dirs,
// as resolved in the current root.
func lookPathIn(file, dirs string) (string, error) {
	for _, d := range filepath.SplitList(dirs) {
		if d == "" {
			continue
		}
		p := filepath.Join(d, file)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q: %w", file, exec.ErrNotFound)
}
