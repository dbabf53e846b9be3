// Package entrypoint is the stage0 side and the stage1 side of the stage1
// entrypoint interface: the annotation names that point at the entrypoints,
// the interface version, the environment variables, and one argument type
// per entrypoint.
//
// Invariant: stage0 builds an argument vector with Args and stage1 reads it
// with the matching Parse function, so the two agree by construction. Args
// never emits a flag that the stage1's declared interface version lacks
// (rkt v1.30's gating: --hostname from 2, --disable-* from 3,
// --dns-conf-mode from 4, --ipc from 6). The order of the run arguments is
// rkt v1.30's. See Documentation/devel/stage1-contract.md.
package entrypoint

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
)

// Annotations on a stage1 image manifest naming its entrypoints (paths
// inside the stage1 rootfs) and its interface version.
const (
	AnnotationRun              = "coreos.com/rkt/stage1/run"
	AnnotationEnter            = "coreos.com/rkt/stage1/enter"
	AnnotationStop             = "coreos.com/rkt/stage1/stop"
	AnnotationGC               = "coreos.com/rkt/stage1/gc"
	AnnotationInterfaceVersion = "coreos.com/rkt/stage1/interface-version"
)

// ExitFailure is the exit status of rkt, and of a stage1 process, that
// failed itself rather than passing on an app's own status: rkt v1.30's
// 254. It is also the status recorded for an app that could not be
// started at all.
const ExitFailure = 254

// Interface versions declared by this project's stage1 images.
const (
	InterfaceVersionNspawn = 6
	InterfaceVersionFly    = 5
)

// EnvLockFD names the environment variable that carries, to the run
// entrypoint, the number of the open, exclusively locked descriptor of the
// pod directory. The descriptor is not close-on-exec; stage1 keeps it open
// for the pod's whole life.
const EnvLockFD = "RKT_LOCK_FD"

// ErrMissingUUID is returned by the Parse functions when the pod UUID
// argument is absent.
var ErrMissingUUID = errors.New("missing pod UUID argument")

// InterfaceVersion is the interface version a stage1 image declares; 1 when
// the annotation is missing or is not a positive integer.
func InterfaceVersion(m *schema.ImageManifest) int {
	if m == nil {
		return 1
	}
	v, ok := m.Annotations.Get(AnnotationInterfaceVersion)
	if !ok {
		return 1
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// Entrypoint returns the path inside the stage1 rootfs that the given
// annotation (AnnotationRun, ...) names, and whether the image has it.
func Entrypoint(m *schema.ImageManifest, annotation string) (string, bool) {
	if m == nil {
		return "", false
	}
	v, ok := m.Annotations.Get(annotation)
	if !ok || v == "" {
		return "", false
	}
	return v, true
}

// SetEntrypoints is a helper for building stage1 manifests: it sets the
// four entrypoint annotations and the interface version.
func SetEntrypoints(m *schema.ImageManifest, run, enter, stop, gc string, version int) {
	for _, kv := range [][2]string{
		{AnnotationRun, run}, {AnnotationEnter, enter}, {AnnotationStop, stop}, {AnnotationGC, gc},
		{AnnotationInterfaceVersion, strconv.Itoa(version)},
	} {
		if kv[1] != "" {
			m.Annotations.Set(types.ACIdentifier(kv[0]), kv[1])
		}
	}
}

// RunArgs are the arguments of the run entrypoint.
type RunArgs struct {
	Debug       bool
	Net         []string // "host", "none", "default" or network names (with ":k=v;..." args)
	Interactive bool
	MDSToken    string
	LocalConfig string
	Hostname    string // interface version 2+
	DNSConfMode string // "resolv=...,hosts=...", interface version 4+

	DisableCapabilities bool // interface version 3+
	DisablePaths        bool // interface version 3+
	DisableSeccomp      bool // interface version 3+

	IPC  string // "auto", "private", "parent"; interface version 6+
	UUID string
}

// Args is the argument vector, in rkt v1.30's order, for a stage1 of the
// given interface version (flags the version lacks are left out).
func (a RunArgs) Args(version int) []string {
	var out []string
	if a.Debug {
		out = append(out, "--debug")
	}
	net := strings.Join(a.Net, ",")
	if net == "" {
		net = "default"
	}
	out = append(out, "--net="+net)
	if a.Interactive {
		out = append(out, "--interactive")
	}
	if a.MDSToken != "" {
		out = append(out, "--mds-token="+a.MDSToken)
	}
	if a.LocalConfig != "" {
		out = append(out, "--local-config="+a.LocalConfig)
	}
	if version >= 2 && a.Hostname != "" {
		out = append(out, "--hostname="+a.Hostname)
	}
	if version >= 4 && a.DNSConfMode != "" {
		out = append(out, "--dns-conf-mode="+a.DNSConfMode)
	}
	if version >= 3 {
		if a.DisableCapabilities {
			out = append(out, "--disable-capabilities-restriction")
		}
		if a.DisablePaths {
			out = append(out, "--disable-paths")
		}
		if a.DisableSeccomp {
			out = append(out, "--disable-seccomp")
		}
	}
	if version >= 6 && a.IPC != "" {
		out = append(out, "--ipc="+a.IPC)
	}
	return append(out, a.UUID)
}

// ParseRunArgs reads the run entrypoint's argument vector (without the
// program name). Flags of other interface versions are accepted too, and
// --private-users and --mutable (rkt's) are accepted and ignored.
func ParseRunArgs(args []string) (RunArgs, error) {
	var a RunArgs
	var net string
	var ignored string
	var ignoredB bool
	fs := newFlagSet("run")
	fs.BoolVar(&a.Debug, "debug", false, "")
	fs.StringVar(&net, "net", "default", "")
	fs.BoolVar(&a.Interactive, "interactive", false, "")
	fs.StringVar(&a.MDSToken, "mds-token", "", "")
	fs.StringVar(&a.LocalConfig, "local-config", "", "")
	fs.StringVar(&a.Hostname, "hostname", "", "")
	fs.StringVar(&a.DNSConfMode, "dns-conf-mode", "", "")
	fs.BoolVar(&a.DisableCapabilities, "disable-capabilities-restriction", false, "")
	fs.BoolVar(&a.DisablePaths, "disable-paths", false, "")
	fs.BoolVar(&a.DisableSeccomp, "disable-seccomp", false, "")
	fs.StringVar(&a.IPC, "ipc", "", "")
	fs.StringVar(&ignored, "private-users", "", "")
	fs.BoolVar(&ignoredB, "mutable", false, "")
	uuid, err := parseWithUUID(fs, args)
	if err != nil {
		return RunArgs{}, fmt.Errorf("parsing run arguments: %w", err)
	}
	a.UUID = uuid
	if net != "" {
		a.Net = strings.Split(net, ",")
	}
	switch a.IPC {
	case "", "auto", "private", "parent":
	default:
		return RunArgs{}, fmt.Errorf("parsing run arguments: --ipc=%q: want auto, private or parent", a.IPC)
	}
	return a, nil
}

// EnterArgs are the arguments of the enter entrypoint.
type EnterArgs struct {
	Pid     int
	AppName string
	Cmd     []string
}

// Args is the argument vector: --pid=N --appname=NAME -- CMD ARGS...
func (a EnterArgs) Args() []string {
	out := []string{"--pid=" + strconv.Itoa(a.Pid), "--appname=" + a.AppName, "--"}
	return append(out, a.Cmd...)
}

// ParseEnterArgs reads the enter entrypoint's argument vector.
func ParseEnterArgs(args []string) (EnterArgs, error) {
	var a EnterArgs
	fs := newFlagSet("enter")
	fs.IntVar(&a.Pid, "pid", 0, "")
	fs.StringVar(&a.AppName, "appname", "", "")
	if err := fs.Parse(args); err != nil {
		return EnterArgs{}, fmt.Errorf("parsing enter arguments: %w", err)
	}
	if a.Pid <= 0 {
		return EnterArgs{}, errors.New("parsing enter arguments: --pid must be a positive pid")
	}
	a.Cmd = fs.Args()
	return a, nil
}

// StopArgs are the arguments of the stop entrypoint.
type StopArgs struct {
	Force bool
	UUID  string
}

// Args is the argument vector: [--force] UUID.
func (a StopArgs) Args() []string {
	var out []string
	if a.Force {
		out = append(out, "--force")
	}
	return append(out, a.UUID)
}

// ParseStopArgs reads the stop entrypoint's argument vector.
func ParseStopArgs(args []string) (StopArgs, error) {
	var a StopArgs
	fs := newFlagSet("stop")
	fs.BoolVar(&a.Force, "force", false, "")
	uuid, err := parseWithUUID(fs, args)
	if err != nil {
		return StopArgs{}, fmt.Errorf("parsing stop arguments: %w", err)
	}
	a.UUID = uuid
	return a, nil
}

// GCArgs are the arguments of the gc entrypoint.
type GCArgs struct {
	Debug       bool
	LocalConfig string
	UUID        string
}

// Args is the argument vector: [--debug] [--local-config=DIR] UUID.
func (a GCArgs) Args() []string {
	var out []string
	if a.Debug {
		out = append(out, "--debug")
	}
	if a.LocalConfig != "" {
		out = append(out, "--local-config="+a.LocalConfig)
	}
	return append(out, a.UUID)
}

// ParseGCArgs reads the gc entrypoint's argument vector.
func ParseGCArgs(args []string) (GCArgs, error) {
	var a GCArgs
	fs := newFlagSet("gc")
	fs.BoolVar(&a.Debug, "debug", false, "")
	fs.StringVar(&a.LocalConfig, "local-config", "", "")
	uuid, err := parseWithUUID(fs, args)
	if err != nil {
		return GCArgs{}, fmt.Errorf("parsing gc arguments: %w", err)
	}
	a.UUID = uuid
	return a, nil
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseWithUUID parses flags followed by exactly one UUID argument.
func parseWithUUID(fs *flag.FlagSet, args []string) (string, error) {
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	switch fs.NArg() {
	case 0:
		return "", ErrMissingUUID
	case 1:
		return fs.Arg(0), nil
	default:
		return "", fmt.Errorf("unexpected arguments after the UUID: %q", fs.Args()[1:])
	}
}
