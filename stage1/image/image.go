// Package image builds this project's stage1 images, stage1-nspawn.aci and
// stage1-fly.aci: an uncompressed ACI whose manifest names the entrypoints
// (common/entrypoint's annotations) and whose rootfs holds the static
// stage1 binaries.
//
// The nspawn image:
//
//	manifest                 coreos.com/rkt/stage1-nspawn, interface-version 6
//	rootfs/nspawn-stage1     host-side multi-call binary (stage1/nspawn)
//	rootfs/init, enter, stop, gc -> nspawn-stage1   (relative symlinks)
//	rootfs/supervisor        the pod's PID 1 (stage1/supervisor)
//	rootfs/usr/lib/os-release, rootfs/etc/os-release -> ../usr/lib/os-release
//	rootfs/{dev,proc,sys,tmp,run,etc,opt/stage2,rkt/{status,env,volumes}}
//
// The fly image:
//
//	manifest                 coreos.com/rkt/stage1-fly, interface-version 5
//	rootfs/fly-stage1        multi-call binary (stage1/fly)
//	rootfs/run, enter, stop, gc -> fly-stage1
//	rootfs/opt/stage2
//
// systemd-nspawn refuses a directory without /usr; nothing else in the
// rootfs is needed by it, so the image stays a few megabytes and a pod
// start copies nothing large.
//
// Invariant: the output is deterministic. Entries are written in a fixed
// order with a fixed mtime (ModTime), owner 0:0 and fixed modes, so the
// same binaries give the same image ID. The entrypoint symlinks are
// relative, because stage0 runs them on the host as
// <pod>/stage1/rootfs/<entrypoint>.
package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/entrypoint"
)

// Flavors this package builds.
const (
	FlavorNspawn = "nspawn"
	FlavorFly    = "fly"
)

// Binary names: the keys of Options.Binaries and the file names in the
// stage1 rootfs.
const (
	BinNspawn     = "nspawn-stage1"
	BinSupervisor = "supervisor"
	BinFly        = "fly-stage1"
)

// Packages that build each binary.
var binPackages = map[string]string{
	BinNspawn:     "github.com/rkt/rkt/stage1/nspawn",
	BinSupervisor: "github.com/rkt/rkt/stage1/supervisor",
	BinFly:        "github.com/rkt/rkt/stage1/fly",
}

// ModTime is the mtime of every entry in a built image.
var ModTime = time.Unix(1500000000, 0).UTC()

// NamePrefix is the image name without the flavor: coreos.com/rkt/stage1-<flavor>.
const NamePrefix = "coreos.com/rkt/stage1-"

// Options describe one stage1 image.
type Options struct {
	Flavor  string // FlavorNspawn or FlavorFly
	Version string // the "version" label, rkt's version
	// Binaries maps a binary name (BinNspawn, BinSupervisor, BinFly) to a
	// prebuilt static executable. A binary the flavor needs that is not
	// listed is built with `go build` (CGO_ENABLED=0) from this module;
	// the working directory must then be inside the module.
	Binaries map[string]string
	// GoFlags are extra arguments to `go build` (for example -trimpath,
	// -ldflags ...).
	GoFlags []string
}

// Build builds the stage1 image of flavor, labelled with version, to
// outPath, compiling the binaries it needs.
func Build(ctx context.Context, flavor, version, outPath string) error {
	return Write(ctx, Options{Flavor: flavor, Version: version, GoFlags: []string{"-trimpath"}}, outPath)
}

// Write builds the image described by opts and writes it atomically to
// outPath.
func Write(ctx context.Context, opts Options, outPath string) error {
	bins, err := flavorBinaries(opts.Flavor)
	if err != nil {
		return err
	}
	paths := map[string]string{}
	var tmpDir string
	defer func() {
		if tmpDir != "" {
			os.RemoveAll(tmpDir)
		}
	}()
	for _, b := range bins {
		if p := opts.Binaries[b]; p != "" {
			paths[b] = p
			continue
		}
		if tmpDir == "" {
			if tmpDir, err = os.MkdirTemp("", "stage1-build-"); err != nil {
				return fmt.Errorf("building stage1-%s: %w", opts.Flavor, err)
			}
		}
		out := filepath.Join(tmpDir, b)
		if err := goBuild(ctx, binPackages[b], out, opts.GoFlags); err != nil {
			return fmt.Errorf("building stage1-%s: %w", opts.Flavor, err)
		}
		paths[b] = out
	}
	var buf bytes.Buffer
	if err := writeACI(&buf, opts, paths); err != nil {
		return fmt.Errorf("building stage1-%s: %w", opts.Flavor, err)
	}
	if err := os.MkdirAll(filepath.Dir(outPath), 0o755); err != nil {
		return fmt.Errorf("building stage1-%s: %w", opts.Flavor, err)
	}
	if err := atomicfile.WriteFile(outPath, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("building stage1-%s: %w", opts.Flavor, err)
	}
	return nil
}

// Manifest returns the image manifest of a flavor's stage1 image.
func Manifest(flavor, version string) (*schema.ImageManifest, error) {
	if _, err := flavorBinaries(flavor); err != nil {
		return nil, err
	}
	im := schema.BlankImageManifest()
	name, err := types.NewACIdentifier(NamePrefix + flavor)
	if err != nil {
		return nil, fmt.Errorf("naming stage1-%s: %w", flavor, err)
	}
	im.Name = *name
	if version == "" {
		version = "0.0.0"
	}
	im.Labels = types.Labels{
		{Name: "version", Value: version},
		{Name: "os", Value: "linux"},
		{Name: "arch", Value: goArchToACI(runtime.GOARCH)},
	}
	switch flavor {
	case FlavorNspawn:
		entrypoint.SetEntrypoints(im, "/init", "/enter", "/stop", "/gc", entrypoint.InterfaceVersionNspawn)
	case FlavorFly:
		entrypoint.SetEntrypoints(im, "/run", "/enter", "/stop", "/gc", entrypoint.InterfaceVersionFly)
	}
	return im, nil
}

func flavorBinaries(flavor string) ([]string, error) {
	switch flavor {
	case FlavorNspawn:
		return []string{BinNspawn, BinSupervisor}, nil
	case FlavorFly:
		return []string{BinFly}, nil
	}
	return nil, fmt.Errorf("building stage1: %w: %q (want %s or %s)", ErrUnknownFlavor, flavor, FlavorNspawn, FlavorFly)
}

// goArchToACI maps GOARCH to the appc arch label (amd64, i386, aarch64, ...).
func goArchToACI(arch string) string {
	switch arch {
	case "386":
		return "i386"
	case "arm64":
		return "aarch64"
	case "arm":
		return "armv7l"
	case "ppc64le":
		return "ppc64le"
	}
	return arch
}

func goBuild(ctx context.Context, pkg, out string, flags []string) error {
	args := append([]string{"build"}, flags...)
	args = append(args, "-o", out, pkg)
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	cmd := exec.CommandContext(ctx, gobin, args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("compiling %s: %w: %s", pkg, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

type entry struct {
	name     string // inside the ACI ("rootfs/init")
	typ      byte
	mode     int64
	linkname string
	src      string // file to copy for regular files
	body     []byte // content for regular files without src
}

func rootfsEntries(flavor string, paths map[string]string) []entry {
	dir := func(n string) entry { return entry{name: "rootfs/" + n, typ: tar.TypeDir, mode: 0o755} }
	link := func(n, target string) entry {
		return entry{name: "rootfs/" + n, typ: tar.TypeSymlink, mode: 0o777, linkname: target}
	}
	bin := func(n string) entry { return entry{name: "rootfs/" + n, typ: tar.TypeReg, mode: 0o755, src: paths[n]} }
	es := []entry{{name: "rootfs", typ: tar.TypeDir, mode: 0o755}}
	switch flavor {
	case FlavorNspawn:
		osRelease := []byte("NAME=\"rkt stage1\"\nID=rkt-stage1\nPRETTY_NAME=\"rkt stage1 (nspawn)\"\n")
		es = append(es,
			dir("dev"), dir("etc"), dir("opt"), dir("opt/stage2"), dir("proc"),
			dir("rkt"), dir("rkt/env"), dir("rkt/status"), dir("rkt/volumes"),
			dir("run"), dir("sys"), entry{name: "rootfs/tmp", typ: tar.TypeDir, mode: 0o1777},
			dir("usr"), dir("usr/lib"),
			entry{name: "rootfs/usr/lib/os-release", typ: tar.TypeReg, mode: 0o644, body: osRelease},
			link("etc/os-release", "../usr/lib/os-release"),
			bin(BinNspawn), bin(BinSupervisor),
			link("init", BinNspawn), link("enter", BinNspawn), link("stop", BinNspawn), link("gc", BinNspawn),
		)
	case FlavorFly:
		es = append(es,
			dir("opt"), dir("opt/stage2"),
			bin(BinFly),
			link("run", BinFly), link("enter", BinFly), link("stop", BinFly), link("gc", BinFly),
		)
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].name < es[j].name })
	return es
}

func writeACI(w io.Writer, opts Options, paths map[string]string) error {
	im, err := Manifest(opts.Flavor, opts.Version)
	if err != nil {
		return err
	}
	mb, err := json.Marshal(im)
	if err != nil {
		return fmt.Errorf("encoding manifest: %w", err)
	}
	tw := tar.NewWriter(w)
	hdr := func(name string, typ byte, mode int64, size int64, linkname string) *tar.Header {
		return &tar.Header{
			Name: name, Typeflag: typ, Mode: mode, Size: size, Linkname: linkname,
			ModTime: ModTime, Uname: "root", Gname: "root", Format: tar.FormatPAX,
		}
	}
	if err := tw.WriteHeader(hdr("manifest", tar.TypeReg, 0o644, int64(len(mb)), "")); err != nil {
		return err
	}
	if _, err := tw.Write(mb); err != nil {
		return err
	}
	for _, e := range rootfsEntries(opts.Flavor, paths) {
		switch e.typ {
		case tar.TypeDir:
			if err := tw.WriteHeader(hdr(e.name+"/", e.typ, e.mode, 0, "")); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := tw.WriteHeader(hdr(e.name, e.typ, e.mode, 0, e.linkname)); err != nil {
				return err
			}
		case tar.TypeReg:
			body := e.body
			if e.src != "" {
				if body, err = os.ReadFile(e.src); err != nil {
					return fmt.Errorf("reading %s: %w", e.name, err)
				}
			}
			if err := tw.WriteHeader(hdr(e.name, e.typ, e.mode, int64(len(body)), "")); err != nil {
				return err
			}
			if _, err := tw.Write(body); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}
