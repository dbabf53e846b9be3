package pod

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rkt/rkt/common/podlayout"
)

// TreesInUse returns the store tree IDs (stage1TreeStoreID and
// appsinfo/<app>/treeStoreID) of every pod in dataDir that is not garbage:
// exited pods keep theirs until removed, since their overlays may still be
// mounted or exported. Garbage pods are failed prepares, never mounted.
//
// The caller holds the prepare lock exclusively, so no pod gains a tree
// while the result is used.
func TreesInUse(dataDir string) (map[string]bool, error) {
	return trees(dataDir, false)
}

// TreesOfAllPods is TreesInUse with the garbage pods' trees too: image rm
// keeps every tree a pod directory names, so that the pod's gc still finds
// its stage1.
func TreesOfAllPods(dataDir string) (map[string]bool, error) {
	return trees(dataDir, true)
}

func trees(dataDir string, garbage bool) (map[string]bool, error) {
	pods, err := List(dataDir)
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
		if !garbage && (p.State == Garbage || p.State == Deleting) {
			continue
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
