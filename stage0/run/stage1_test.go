package run

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rkt/rkt/stage0/podspec"
)

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStage1DefaultFromImagesDir: with nothing beside the binary, the
// flavor's image is taken from the build's images directory, trusted; with
// it missing too, the error names both places.
func TestStage1DefaultFromImagesDir(t *testing.T) {
	e := newEnv(t)
	var logs bytes.Buffer
	e.cfg.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.cfg.Stage1Default = ""
	imagesDir := filepath.Join(e.dir, "lib", "rkt", "stage1-images")
	e.cfg.Stage1 = Stage1Build{Flavor: "stub", ImagesDir: imagesDir}

	_, err := stage1Key(context.Background(), &e.cfg, podspec.Stage1Choice{})
	if !errors.Is(err, ErrNoStage1) || !strings.Contains(err.Error(), "stage1-stub.aci is missing") ||
		!strings.Contains(err.Error(), BinDir()) || !strings.Contains(err.Error(), imagesDir) {
		t.Fatalf("no stage1 anywhere: %v; want ErrNoStage1 naming %s and %s", err, BinDir(), imagesDir)
	}

	installed := filepath.Join(imagesDir, "stage1-stub.aci")
	copyFile(t, e.stage1, installed)
	key, err := stage1Key(context.Background(), &e.cfg, podspec.Stage1Choice{})
	if err != nil {
		t.Fatalf("stage1 in the images directory: %v", err)
	}
	if !strings.Contains(logs.String(), installed) || !strings.Contains(logs.String(), "without a signature") {
		t.Errorf("the stage1 was not imported from %s by location:\n%s", installed, logs.String())
	}

	// --stage1-from-dir names files in the same directory.
	if k, err := stage1Key(context.Background(), &e.cfg, podspec.Stage1Choice{FromDir: "stage1-stub.aci"}); err != nil || k != key {
		t.Errorf("--stage1-from-dir=stage1-stub.aci: %s %v, want %s", k, err, key)
	}
}

// TestStage1ConfigLocationTrust: a stage1.d location in the build's images
// directory is imported without a signature; the same unsigned file
// elsewhere goes through the verified fetch and is refused.
func TestStage1ConfigLocationTrust(t *testing.T) {
	e := newEnv(t)
	e.cfg.Stage1Default = ""
	imagesDir := filepath.Join(e.dir, "images")
	e.cfg.Stage1 = Stage1Build{Flavor: "stub", ImagesDir: imagesDir}
	writeLocation := func(loc string) {
		t.Helper()
		copyFile(t, e.stage1, loc)
		conf := `{"rktKind":"stage1","rktVersion":"v1","location":"` + loc + `"}`
		p := filepath.Join(e.cfg.LocalConfig, "stage1.d", "s.json")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	writeLocation(filepath.Join(imagesDir, "custom.aci"))
	if _, err := stage1Key(context.Background(), &e.cfg, podspec.Stage1Choice{}); err != nil {
		t.Errorf("stage1.d location in the images directory: %v, want it trusted", err)
	}

	writeLocation(filepath.Join(e.dir, "elsewhere", "custom.aci"))
	key, err := stage1Key(context.Background(), &e.cfg, podspec.Stage1Choice{})
	if err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("an unsigned stage1.d location outside the trusted places: key %q, error %v; want a signature error", key, err)
	}
}
