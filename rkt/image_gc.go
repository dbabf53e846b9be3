package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage0/pod"
	podrun "github.com/rkt/rkt/stage0/run"
	"github.com/rkt/rkt/store"
	"github.com/spf13/cobra"
)

func newImageGCCmd(g *globalFlags) *cobra.Command {
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove images not used within the grace period, and rendered trees no pod uses",
		Long: `Images not used within --grace-period are removed, unless a pod that is
not garbage uses them; so are the rendered trees no such pod uses (they are
rendered again when needed). Pods cannot be prepared meanwhile.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if grace < 0 {
				return usagef("--grace-period must not be negative")
			}
			dir, err := g.dataDir(cmd)
			if err != nil {
				return err
			}
			// Exclusive against run and prepare (shared): no pod is half
			// prepared while the trees in use are read and others removed.
			l, err := podrun.LockPrepare(dir, flock.Exclusive)
			if err != nil {
				return err
			}
			defer l.Close()
			keep, err := treesInUse(dir, false)
			if err != nil {
				return fmt.Errorf("collecting garbage: %w", err)
			}
			st, err := g.openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			removed, err := st.GC(store.GCOptions{GracePeriod: grace, KeepTrees: keep})
			for _, key := range removed {
				fmt.Fprintf(g.stderr, "successfully removed aci for image: %q\n", key)
			}
			if err != nil {
				return fmt.Errorf("collecting garbage: %w", err)
			}
			fmt.Fprintf(g.stderr, "gc: %d image(s) successfully removed\n", len(removed))
			return nil
		},
	}
	cmd.Flags().DurationVar(&grace, "grace-period", 24*time.Hour, "duration since an image was last used after which it is removed")
	return cmd
}

// treesInUse reads the tree IDs (stage1TreeStoreID, appsinfo/*/treeStoreID)
// of every pod that is not garbage: exited pods keep theirs until removed,
// since their overlays may still be mounted or exported. With garbage set,
// the failed prepares' trees count too (image rm keeps every tree a pod
// directory names, so that the pod's gc still finds its stage1).
func treesInUse(dataDir string, garbage bool) (map[string]bool, error) {
	pods, err := pod.List(dataDir)
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	keep := map[string]bool{}
	add := func(path string) error {
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if id := strings.TrimSpace(string(b)); id != "" {
			keep[id] = true
		}
		return nil
	}
	for _, p := range pods {
		if !garbage && (p.State == pod.Garbage || p.State == pod.Deleting) {
			continue // failed prepares: never mounted
		}
		if err := add(filepath.Join(p.Path, podlayout.Stage1TreeStoreIDFile)); err != nil {
			return nil, fmt.Errorf("reading the trees of pod %s: %w", p.UUID, err)
		}
		apps, err := os.ReadDir(filepath.Join(p.Path, "appsinfo"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading the trees of pod %s: %w", p.UUID, err)
		}
		for _, a := range apps {
			if err := add(podlayout.AppsInfoTreeStoreID(p.Path, a.Name())); err != nil {
				return nil, fmt.Errorf("reading the trees of pod %s: %w", p.UUID, err)
			}
		}
	}
	return keep, nil
}
