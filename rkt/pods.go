package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/appc/spec/schema"
	"github.com/rkt/rkt/common/entrypoint"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage0/pod"
	"github.com/spf13/cobra"
)

// errUnprivileged is rkt's refusal of a pod command run without root.
var errUnprivileged = errors.New("cannot run as unprivileged user")

// geteuid is os.Geteuid; tests replace it.
var geteuid = os.Geteuid

// ensureSuperuser refuses to go on without root, where rkt did.
func ensureSuperuser() error {
	if geteuid() != 0 {
		return errUnprivileged
	}
	return nil
}

// podUUIDs returns the pods a command names: its arguments, or the UUID
// read from --uuid-file (not both). want1 asks for exactly one.
func podUUIDs(args []string, uuidFile string, want1 bool) ([]string, error) {
	switch {
	case uuidFile != "" && len(args) > 0:
		return nil, usagef("give either a UUID or --uuid-file, not both")
	case uuidFile != "":
		b, err := os.ReadFile(uuidFile)
		if err != nil {
			return nil, fmt.Errorf("reading the UUID file: %w", err)
		}
		u := strings.TrimSpace(string(b))
		if u == "" {
			return nil, fmt.Errorf("reading the UUID file %s: it is empty", uuidFile)
		}
		return []string{u}, nil
	case len(args) == 0:
		return nil, usagef("missing pod UUID")
	case want1 && len(args) > 1:
		return nil, usagef("too many arguments: one pod UUID expected")
	}
	return args, nil
}

// uuidFileFlag adds --uuid-file to cmd.
func uuidFileFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "uuid-file", "", "read pod UUID from file instead of argument")
}

// stage1GC returns the hook that runs a pod's stage1 gc entrypoint
// (`<pod>/stage1/rootfs/<gc> [--debug] [--local-config=DIR] UUID`, cwd =
// the pod dir) before gc and rm remove it. A pod whose stage1 is gone or
// declares no gc entrypoint has nothing to tear down.
func (g *globalFlags) stage1GC(cmd *cobra.Command) func(ctx context.Context, p *pod.Pod) error {
	return func(ctx context.Context, p *pod.Pod) error {
		data, err := os.ReadFile(podlayout.Stage1Manifest(p.Path))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("running stage1 gc of pod %s: %w", p.UUID, err)
		}
		var m schema.ImageManifest
		if err := m.UnmarshalJSON(data); err != nil {
			return fmt.Errorf("running stage1 gc of pod %s: reading the stage1 manifest: %w", p.UUID, err)
		}
		ep, ok := entrypoint.Entrypoint(&m, entrypoint.AnnotationGC)
		if !ok {
			return nil
		}
		bin := filepath.Join(podlayout.Stage1Rootfs(p.Path), filepath.Clean("/"+ep))
		args := entrypoint.GCArgs{Debug: g.debug, LocalConfig: g.localConfig, UUID: p.UUID}.Args()
		c := exec.CommandContext(ctx, bin, args...)
		c.Dir = p.Path
		c.Stdout, c.Stderr = g.stderr, g.stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("running stage1 gc of pod %s: %w", p.UUID, err)
		}
		return nil
	}
}
