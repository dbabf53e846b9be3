package pod

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rkt/rkt/common/podlayout"
)

func writeTree(t *testing.T, path, id string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(id+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTreesInUse(t *testing.T) {
	dataDir := t.TempDir()
	if got, err := TreesInUse(dataDir); err != nil || len(got) != 0 {
		t.Fatalf("no pods: %v, %v", got, err)
	}

	live := preparedPod(t, dataDir)
	writeTree(t, filepath.Join(live.Path, podlayout.Stage1TreeStoreIDFile), "deps-stage1")
	writeTree(t, podlayout.AppsInfoTreeStoreID(live.Path, "a"), "deps-a")
	writeTree(t, podlayout.AppsInfoTreeStoreID(live.Path, "b"), "deps-b")
	if err := os.MkdirAll(podlayout.AppsInfoDir(live.Path, "empty"), 0o755); err != nil {
		t.Fatal(err) // an app whose tree was never recorded counts for nothing
	}
	live.Close()

	failed, err := Create(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, filepath.Join(failed.Path, podlayout.Stage1TreeStoreIDFile), "deps-failed")
	if err := failed.Abort(); err != nil {
		t.Fatal(err)
	}

	got, err := TreesInUse(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"deps-stage1": true, "deps-a": true, "deps-b": true}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("TreesInUse = %v, want %v (a garbage pod's trees are not in use)", got, want)
	}
}
