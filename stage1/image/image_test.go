package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/appc/spec/schema"

	"github.com/rkt/rkt/common/entrypoint"
	"github.com/rkt/rkt/common/tarsafe"
	"github.com/rkt/rkt/stage1/image"
)

// bins holds the stage1 binaries, compiled once for the whole package.
var bins map[string]string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stage1-bins-")
	if err != nil {
		panic(err)
	}
	bins = map[string]string{}
	for name, pkg := range map[string]string{
		image.BinNspawn: "../nspawn", image.BinSupervisor: "../supervisor", image.BinFly: "../fly",
	} {
		out := filepath.Join(dir, name)
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-trimpath", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			panic("building " + pkg + ": " + err.Error() + "\n" + string(b))
		}
		bins[name] = out
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildImage writes the flavor's image with the prebuilt binaries.
func buildImage(t testing.TB, flavor string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "stage1-"+flavor+".aci")
	opts := image.Options{Flavor: flavor, Version: "1.31.0", Binaries: bins}
	if err := image.Write(context.Background(), opts, out); err != nil {
		t.Fatalf("building the %s image: %v", flavor, err)
	}
	return out
}

type tarEntry struct {
	typ      byte
	linkname string
	mode     int64
}

func readACI(t *testing.T, path string) (*schema.ImageManifest, map[string]tarEntry) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := tarsafe.Check(f, tarsafe.Limits{}); err != nil {
		t.Fatalf("the image is not a valid ACI: %v", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(f)
	entries := map[string]tarEntry{}
	var im schema.ImageManifest
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "manifest" {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &im); err != nil {
				t.Fatalf("parsing the manifest: %v", err)
			}
		}
		if !h.ModTime.Equal(image.ModTime) || h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: mtime %v owner %d:%d, want %v 0:0", h.Name, h.ModTime, h.Uid, h.Gid, image.ModTime)
		}
		entries[strings.TrimSuffix(h.Name, "/")] = tarEntry{typ: h.Typeflag, linkname: h.Linkname, mode: h.Mode}
	}
	return &im, entries
}

func TestImagesDeclareEntrypointsAndHoldTheirBinaries(t *testing.T) {
	for _, tc := range []struct {
		flavor    string
		version   int
		run       string
		binary    string
		extraBins []string
	}{
		{image.FlavorNspawn, 6, "/init", image.BinNspawn, []string{image.BinSupervisor}},
		{image.FlavorFly, 5, "/run", image.BinFly, nil},
	} {
		t.Run(tc.flavor, func(t *testing.T) {
			im, entries := readACI(t, buildImage(t, tc.flavor))
			if got, want := im.Name.String(), "coreos.com/rkt/stage1-"+tc.flavor; got != want {
				t.Errorf("name = %q, want %q", got, want)
			}
			for label, want := range map[string]string{"version": "1.31.0", "os": "linux"} {
				if got, _ := im.GetLabel(label); got != want {
					t.Errorf("label %s = %q, want %q", label, got, want)
				}
			}
			if got := entrypoint.InterfaceVersion(im); got != tc.version {
				t.Errorf("interface version = %d, want %d", got, tc.version)
			}
			for ann, want := range map[string]string{
				entrypoint.AnnotationRun: tc.run, entrypoint.AnnotationEnter: "/enter",
				entrypoint.AnnotationStop: "/stop", entrypoint.AnnotationGC: "/gc",
			} {
				got, ok := entrypoint.Entrypoint(im, ann)
				if !ok || got != want {
					t.Errorf("%s = %q (present %v), want %q", ann, got, ok, want)
				}
				// Every entrypoint is a relative symlink to the binary, which
				// is there and executable.
				e := entries["rootfs"+want]
				if e.typ != tar.TypeSymlink || e.linkname != tc.binary {
					t.Errorf("rootfs%s: type %c -> %q, want a symlink to %q", want, e.typ, e.linkname, tc.binary)
				}
			}
			for _, b := range append([]string{tc.binary}, tc.extraBins...) {
				if e := entries["rootfs/"+b]; e.typ != tar.TypeReg || e.mode&0o111 == 0 {
					t.Errorf("rootfs/%s: type %c mode %o, want an executable file", b, e.typ, e.mode)
				}
			}
			if tc.flavor == image.FlavorNspawn {
				// systemd-nspawn refuses a directory without /usr.
				if e := entries["rootfs/usr"]; e.typ != tar.TypeDir {
					t.Errorf("rootfs/usr missing: systemd-nspawn would refuse the rootfs")
				}
			}
		})
	}
}

func TestImagesAreDeterministic(t *testing.T) {
	sum := func(p string) [64]byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return sha512.Sum512(b)
	}
	a, b := buildImage(t, image.FlavorNspawn), buildImage(t, image.FlavorNspawn)
	if sum(a) != sum(b) {
		t.Fatal("two builds of the same binaries give different images (and image IDs)")
	}
}

func TestUnknownFlavorIsRefused(t *testing.T) {
	err := image.Write(context.Background(), image.Options{Flavor: "kvm"}, filepath.Join(t.TempDir(), "x.aci"))
	if !errors.Is(err, image.ErrUnknownFlavor) {
		t.Fatalf("err = %v, want ErrUnknownFlavor", err)
	}
}

func TestBuildCompilesTheBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the stage1 binaries: skipped with -short")
	}
	out := filepath.Join(t.TempDir(), "stage1-fly.aci")
	if err := image.Build(context.Background(), image.FlavorFly, "9.9.9", out); err != nil {
		t.Fatal(err)
	}
	_, entries := readACI(t, out)
	if e := entries["rootfs/"+image.BinFly]; e.typ != tar.TypeReg {
		t.Fatalf("the compiled fly binary is missing from the image")
	}
	// The binary is static: no ELF interpreter.
	dir := t.TempDir()
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := tarsafe.Extract(f, dir, tarsafe.Options{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "rootfs", image.BinFly))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b[:min(len(b), 4096)], []byte("/lib64/ld-linux")) || bytes.Contains(b[:min(len(b), 4096)], []byte("/lib/ld-")) {
		t.Fatal("the fly binary is dynamically linked; stage1 binaries must be static")
	}
}
