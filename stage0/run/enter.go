package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/common/entrypoint"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage0/pod"
)

// pidWait bounds how long Enter waits for a pod that has just started to
// report its pid.
const pidWait = 10 * time.Second

// Enter execs the stage1 enter entrypoint of a running pod, to run cmd in
// app (which may be empty when the pod has one app). An empty cmd runs
// the first shell found in the app: /bin/bash, then /bin/sh. It returns
// only on error.
func Enter(ctx context.Context, cfg Config, uuid, app string, cmd []string) error {
	p, err := pod.Get(cfg.DataDir, uuid)
	if err != nil {
		return fmt.Errorf("entering pod %s: %w", uuid, err)
	}
	if p.State != pod.Running {
		return fmt.Errorf("entering pod %s: %w", p.UUID, &pod.StateError{UUID: p.UUID, State: p.State, Op: "entering pod"})
	}
	pm, _, err := p.Manifest()
	if err != nil {
		return fmt.Errorf("entering pod %s: %w", p.UUID, err)
	}
	app, err = chooseApp(pm, app)
	if err != nil {
		return fmt.Errorf("entering pod %s: %w", p.UUID, err)
	}
	if len(cmd) == 0 {
		sh, err := findShell(podlayout.AppRootfs(p.Path, app))
		if err != nil {
			return fmt.Errorf("entering pod %s: app %s: %w (give the command to run)", p.UUID, app, err)
		}
		cmd = []string{sh}
	}
	pid, err := waitPid(ctx, p)
	if err != nil {
		return fmt.Errorf("entering pod %s: %w", p.UUID, err)
	}
	s1, err := readImageManifest(podlayout.Stage1Manifest(p.Path))
	if err != nil {
		return fmt.Errorf("entering pod %s: %w", p.UUID, err)
	}
	entry, err := stage1Entrypoint(s1, entrypoint.AnnotationEnter)
	if err != nil {
		return fmt.Errorf("entering pod %s: %w", p.UUID, err)
	}
	bin := filepath.Join(podlayout.Stage1Rootfs(p.Path), entry)
	argv := append([]string{bin}, entrypoint.EnterArgs{Pid: pid, AppName: app, Cmd: cmd}.Args()...)
	if err := os.Chdir(p.Path); err != nil {
		return fmt.Errorf("entering pod %s: %w", p.UUID, err)
	}
	err = syscall.Exec(bin, argv, os.Environ())
	return fmt.Errorf("entering pod %s: executing stage1 %s: %w", p.UUID, bin, err)
}

// chooseApp returns app when the pod has it, or the pod's only app.
func chooseApp(pm *schema.PodManifest, app string) (string, error) {
	if app != "" {
		if err := podlayout.ValidAppName(app); err != nil {
			return "", err
		}
		if pm.Apps.Get(types.ACName(app)) == nil {
			return "", fmt.Errorf("%w: %q (apps: %s)", ErrNoSuchApp, app, appNames(pm))
		}
		return app, nil
	}
	if len(pm.Apps) != 1 {
		return "", fmt.Errorf("%w (apps: %s)", ErrAppRequired, appNames(pm))
	}
	return pm.Apps[0].Name.String(), nil
}

func appNames(pm *schema.PodManifest) string {
	var names []string
	for _, ra := range pm.Apps {
		names = append(names, ra.Name.String())
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// findShell finds /bin/bash or /bin/sh in an app's rootfs (as entries:
// a symlink to busybox counts).
func findShell(rootfs string) (string, error) {
	for _, sh := range []string{"/bin/bash", "/bin/sh"} {
		if _, err := os.Lstat(filepath.Join(rootfs, sh)); err == nil {
			return sh, nil
		}
	}
	return "", ErrNoShell
}

// waitPid waits (briefly) for a pod that has just started to report its pid.
func waitPid(ctx context.Context, p *pod.Pod) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, pidWait)
	defer cancel()
	for {
		pid, err := p.Pid()
		if err == nil {
			return pid, nil
		}
		if !errors.Is(err, pod.ErrNoPid) {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop runs the stage1 stop entrypoint of a running pod (SIGTERM to the
// pod, or SIGKILL with force) and returns once it has exited; it does not
// wait for the pod to exit.
func Stop(ctx context.Context, cfg Config, uuid string, force bool) error {
	p, err := pod.Get(cfg.DataDir, uuid)
	if err != nil {
		return fmt.Errorf("stopping pod %s: %w", uuid, err)
	}
	if p.State != pod.Running {
		return fmt.Errorf("stopping pod %s: %w", p.UUID, &pod.StateError{UUID: p.UUID, State: p.State, Op: "stopping pod"})
	}
	if err := runStage1(ctx, &cfg, p, entrypoint.AnnotationStop, entrypoint.StopArgs{Force: force, UUID: p.UUID}.Args()); err != nil {
		return fmt.Errorf("stopping pod %s: %w", p.UUID, err)
	}
	return nil
}

// Stage1GC returns the hook stage0/pod.GC calls for a pod that ran: it
// runs the pod's stage1 gc entrypoint (after mounting the stage1 rootfs of
// an overlay pod again if a reboot unmounted it). The mounts are left for
// the caller, which removes every mount under the pod.
func Stage1GC(ctx context.Context, cfg Config) func(context.Context, *pod.Pod) error {
	return func(ctx context.Context, p *pod.Pod) error {
		if _, err := os.Stat(podlayout.Stage1Manifest(p.Path)); errors.Is(err, os.ErrNotExist) {
			return nil // never got as far as a stage1
		}
		if _, err := mountStage1(cfg.DataDir, p.Path); err != nil {
			return fmt.Errorf("stage1 gc of pod %s: %w", p.UUID, err)
		}
		args := entrypoint.GCArgs{Debug: cfg.Debug, LocalConfig: cfg.LocalConfig, UUID: p.UUID}.Args()
		if err := runStage1(ctx, &cfg, p, entrypoint.AnnotationGC, args); err != nil {
			return fmt.Errorf("stage1 gc of pod %s: %w", p.UUID, err)
		}
		return nil
	}
}

// stage1Timeout bounds the stop and gc entrypoints.
const stage1Timeout = time.Minute

// runStage1 runs one of the pod's stage1 entrypoints as a child, in the
// pod directory, with its output going to cfg.Stdout and cfg.Stderr.
func runStage1(ctx context.Context, cfg *Config, p *pod.Pod, annotation string, args []string) error {
	s1, err := readImageManifest(podlayout.Stage1Manifest(p.Path))
	if err != nil {
		return err
	}
	entry, err := stage1Entrypoint(s1, annotation)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, stage1Timeout)
	defer cancel()
	bin := filepath.Join(podlayout.Stage1Rootfs(p.Path), entry)
	c := exec.CommandContext(ctx, bin, args...)
	c.Dir = p.Path
	c.Stdout, c.Stderr = cfg.Stdout, cfg.Stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("running stage1 %s: %w", bin, err)
	}
	return nil
}
