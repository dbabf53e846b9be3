package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/rkt/rkt/common/entrypoint"
	"github.com/rkt/rkt/common/podlayout"
)

// runGC tears down what the pod left on the host. The pod's own mounts
// lived in namespaces that died with it, and stage0 unmounts the pod
// directory itself; what is left is nspawn's per-machine propagation
// directory when it could not remove it. Networking (a later issue) will
// be torn down here.
func runGC(args []string) error {
	ga, err := entrypoint.ParseGCArgs(args)
	if err != nil {
		return err
	}
	if err := podlayout.ValidUUID(ga.UUID); err != nil {
		return fmt.Errorf("collecting pod: %w", err)
	}
	// Only an empty directory is removed (rmdir): nothing under it is ours
	// to delete, and a non-empty one is left for nspawn's next run.
	dir := filepath.Join(nspawnDirs, "propagate", "rkt-"+ga.UUID)
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTEMPTY) {
		return fmt.Errorf("collecting pod %s: removing %s: %w", ga.UUID, dir, err)
	}
	return nil
}
