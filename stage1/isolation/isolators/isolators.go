// Package isolators turns the appc isolators of an app (its image's, with
// the pod manifest's overrides, which carry rkt's --memory, --cpu,
// --cpu-shares and --oom-score-adj) into one typed Spec that the pod
// supervisor applies, and lists every isolator the stage1 cannot apply so
// that it is shown to the user. It also holds the paths-isolation
// defaults (ApplyPaths): sensitive /proc and /sys paths masked or read-only.
//
// Invariants:
//   - Every isolator given to Parse ends up either in the Spec or in the
//     Unsupported list; none is dropped without a word.
//   - The pod manifest's app wins over the image's, per isolator kind;
//     the capability isolators (retain, remove) count as one kind, and so
//     do the seccomp ones, since a set of one kind replaces the other.
//   - Flag helpers build isolators through appc's own JSON decoding, so a
//     value they accept is one appc's validation accepts.
package isolators

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/stage1/isolation/cgroups"
)

// Spec is what the supervisor applies to one app. Zero values mean "not
// set": no limit, the kernel's default, the stage1's default sets.
type Spec struct {
	MemoryLimit int64  // bytes (resource/memory limit)
	CPUMilli    int64  // millicores (resource/cpu limit)
	CPUShares   uint64 // os/linux/cpu-shares
	OOMScoreAdj *int   // os/linux/oom-score-adj

	// Capabilities: at most one of the two is set. Names as in the
	// manifest (CAP_NET_ADMIN); the caps package resolves them.
	CapsRetain []string // os/linux/capabilities-retain-set
	CapsRemove []string // os/linux/capabilities-remove-set

	// Seccomp: at most one of the two is set; the seccomp package compiles it.
	SeccompRetain *SeccompSet // os/linux/seccomp-retain-set
	SeccompRemove *SeccompSet // os/linux/seccomp-remove-set

	NoNewPrivileges bool // os/linux/no-new-privileges
}

// SeccompSet is a seccomp isolator's syscalls (names, or "@group"s as the
// appc spec allows) and its errno ("" when none was given).
type SeccompSet struct {
	Syscalls []string
	Errno    string
}

// Resources are the Spec's cgroup limits. Device rules are the caller's
// to add (cgroups.WithDefaultDevices plus the app's volume devices).
func (s Spec) Resources() cgroups.Resources {
	return cgroups.Resources{MemoryLimit: s.MemoryLimit, CPUMilli: s.CPUMilli, CPUShares: s.CPUShares}
}

// Applied names the isolators set in s, in a fixed order: what a stage1
// that applies none of them (fly) reports as unsupported.
func (s Spec) Applied() []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(s.MemoryLimit > 0, types.ResourceMemoryName)
	add(s.CPUMilli > 0, types.ResourceCPUName)
	add(s.CPUShares > 0, types.LinuxCPUSharesName)
	add(s.OOMScoreAdj != nil, types.LinuxOOMScoreAdjName)
	add(s.CapsRetain != nil, types.LinuxCapabilitiesRetainSetName)
	add(s.CapsRemove != nil, types.LinuxCapabilitiesRevokeSetName)
	add(s.SeccompRetain != nil, types.LinuxSeccompRetainSetName)
	add(s.SeccompRemove != nil, types.LinuxSeccompRemoveSetName)
	add(s.NoNewPrivileges, types.LinuxNoNewPrivilegesName)
	return out
}

// Unsupported is an isolator the stage1 does not apply, and why. The
// supervisor prints each one (String) to the pod's output before the app
// starts.
type Unsupported struct {
	App    string // "" when the caller did not name the app
	Name   string // the isolator's name, as in the manifest
	Reason string
}

func (u Unsupported) String() string {
	if u.App == "" {
		return fmt.Sprintf("isolator %q is not applied: %s", u.Name, u.Reason)
	}
	return fmt.Sprintf("app %q: isolator %q is not applied: %s", u.App, u.Name, u.Reason)
}

// unsupportedReasons are the appc isolators this stage1 knows but does not
// apply.
var unsupportedReasons = map[types.ACIdentifier]string{
	types.ResourceBlockBandwidthName:   "block I/O bandwidth limits are not supported by this stage1",
	types.ResourceBlockIOPSName:        "block I/O operation limits are not supported by this stage1",
	types.ResourceNetworkBandwidthName: "network bandwidth limits are not supported by this stage1",
	types.LinuxSELinuxContextName:      "SELinux contexts are not supported by this stage1",
	types.UnixSysctlName:               "sysctl settings are not supported by this stage1",
}

// kind groups isolators that replace each other when overridden.
func kind(n types.ACIdentifier) string {
	switch n {
	case types.LinuxCapabilitiesRetainSetName, types.LinuxCapabilitiesRevokeSetName:
		return "capabilities"
	case types.LinuxSeccompRetainSetName, types.LinuxSeccompRemoveSetName:
		return "seccomp"
	}
	return string(n)
}

// Merge is the image app's isolators overridden by the pod app's: every
// isolator of the pod app, plus those of the image app whose kind the pod
// app does not set. Either app may be nil.
func Merge(image, pod *types.App) types.Isolators {
	var out types.Isolators
	override := map[string]bool{}
	if pod != nil {
		for _, iso := range pod.Isolators {
			override[kind(iso.Name)] = true
		}
	}
	if image != nil {
		for _, iso := range image.Isolators {
			if !override[kind(iso.Name)] {
				out = append(out, iso)
			}
		}
	}
	if pod != nil {
		out = append(out, pod.Isolators...)
	}
	return out
}

// Parse reads the isolators of an app: the image manifest's app, with the
// pod manifest's app (the RuntimeApp's App, which carries the rkt flags'
// overrides) taking precedence; either may be nil. Every isolator not in
// the Spec is in the returned list. Where one kind appears more than once,
// the last one counts.
func Parse(image, pod *types.App) (Spec, []Unsupported) {
	var s Spec
	var un []Unsupported
	for _, iso := range Merge(image, pod) {
		if u, ok := parseOne(&s, iso); !ok {
			un = append(un, u)
		}
	}
	return s, un
}

func parseOne(s *Spec, iso types.Isolator) (Unsupported, bool) {
	bad := func(reason string) (Unsupported, bool) {
		return Unsupported{Name: string(iso.Name), Reason: reason}, false
	}
	if r, ok := unsupportedReasons[iso.Name]; ok {
		return bad(r)
	}
	switch v := iso.Value().(type) {
	case nil:
		return bad("unknown isolator")
	case *types.ResourceMemory:
		lim := v.Limit()
		if lim == nil {
			return Unsupported{}, true // a request alone limits nothing
		}
		if lim.Value() <= 0 {
			return bad(fmt.Sprintf("memory limit %s is not positive", lim))
		}
		s.MemoryLimit = lim.Value()
	case *types.ResourceCPU:
		lim := v.Limit()
		if lim == nil {
			return Unsupported{}, true
		}
		if lim.MilliValue() <= 0 {
			return bad(fmt.Sprintf("cpu limit %s is not positive", lim))
		}
		s.CPUMilli = lim.MilliValue()
	case *types.LinuxCPUShares:
		s.CPUShares = uint64(*v)
	case *types.LinuxOOMScoreAdj:
		n := int(*v)
		s.OOMScoreAdj = &n
	case *types.LinuxCapabilitiesRetainSet:
		s.CapsRetain, s.CapsRemove = capNames(v.Set()), nil
	case *types.LinuxCapabilitiesRevokeSet:
		s.CapsRemove, s.CapsRetain = capNames(v.Set()), nil
	case *types.LinuxSeccompRetainSet:
		s.SeccompRetain, s.SeccompRemove = seccompSet(v.Set(), v.Errno()), nil
	case *types.LinuxSeccompRemoveSet:
		s.SeccompRemove, s.SeccompRetain = seccompSet(v.Set(), v.Errno()), nil
	case *types.LinuxNoNewPrivileges:
		s.NoNewPrivileges = bool(*v)
	default:
		return bad("not supported by this stage1")
	}
	return Unsupported{}, true
}

func capNames(set []types.LinuxCapability) []string {
	out := make([]string, 0, len(set))
	for _, c := range set {
		out = append(out, string(c))
	}
	return out
}

func seccompSet(set []types.LinuxSeccompEntry, errno types.LinuxSeccompErrno) *SeccompSet {
	out := &SeccompSet{Syscalls: make([]string, 0, len(set)), Errno: string(errno)}
	for _, e := range set {
		out.Syscalls = append(out.Syscalls, string(e))
	}
	return out
}

// Flags are rkt's per-app resource flags; empty or nil fields are not given.
type Flags struct {
	Memory      string // --memory: a quantity, "512M", "1Gi"
	CPU         string // --cpu: a quantity of cores, "500m", "2"
	CPUShares   *int   // --cpu-shares: 2..262144
	OOMScoreAdj *int   // --oom-score-adj: -1000..1000
}

// FromFlags builds the isolators rkt's flags stand for, in the order
// memory, cpu, cpu-shares, oom-score-adj. --memory and --cpu set both the
// request and the limit (rkt's behaviour). Errors name the flag.
func FromFlags(f Flags) (types.Isolators, error) {
	var out types.Isolators
	add := func(flag string, name types.ACIdentifier, value any) error {
		iso, err := build(name, value)
		if err != nil {
			return fmt.Errorf("parsing --%s: %w", flag, err)
		}
		out = append(out, iso)
		return nil
	}
	if f.Memory != "" {
		if err := add("memory", types.ResourceMemoryName, map[string]string{"request": f.Memory, "limit": f.Memory}); err != nil {
			return nil, err
		}
	}
	if f.CPU != "" {
		if err := add("cpu", types.ResourceCPUName, map[string]string{"request": f.CPU, "limit": f.CPU}); err != nil {
			return nil, err
		}
	}
	if f.CPUShares != nil {
		if err := add("cpu-shares", types.LinuxCPUSharesName, *f.CPUShares); err != nil {
			return nil, err
		}
	}
	if f.OOMScoreAdj != nil {
		if err := add("oom-score-adj", types.LinuxOOMScoreAdjName, *f.OOMScoreAdj); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// build makes an isolator through appc's decoder, which validates it.
func build(name types.ACIdentifier, value any) (types.Isolator, error) {
	raw, err := json.Marshal(map[string]any{"name": name, "value": value})
	if err != nil {
		return types.Isolator{}, err
	}
	var iso types.Isolator
	if err := json.Unmarshal(raw, &iso); err != nil {
		return types.Isolator{}, fmt.Errorf("%w: %v", ErrInvalidValue, trimAppcError(err))
	}
	if v, ok := iso.Value().(types.Resource); ok && v.Limit() != nil && v.Limit().Sign() <= 0 {
		return types.Isolator{}, fmt.Errorf("%w: %s must be positive", ErrInvalidValue, v.Limit())
	}
	return iso, nil
}

func trimAppcError(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing ")
}

// Override puts isos into app's isolators: each replaces every isolator of
// its kind already there (a capabilities or seccomp set replaces both
// sets), and is appended at the end. This is how the rkt flags override
// the image's isolators in the pod manifest's app.
func Override(app *types.App, isos types.Isolators) {
	for _, iso := range isos {
		k := kind(iso.Name)
		kept := app.Isolators[:0:0]
		for _, old := range app.Isolators {
			if kind(old.Name) != k {
				kept = append(kept, old)
			}
		}
		app.Isolators = append(kept, iso)
	}
}
