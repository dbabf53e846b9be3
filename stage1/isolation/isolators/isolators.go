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
//   - The pod manifest's app wins over the image's, per isolator kind, as
//     common/isospec merges them (the grammar stage0 writes the manifest
//     with lives there).
package isolators

import (
	"fmt"

	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/common/isospec"
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

// Merge is the image app's isolators overridden by the pod app's (see
// isospec.Merge).
func Merge(image, pod *types.App) types.Isolators { return isospec.Merge(image, pod) }
