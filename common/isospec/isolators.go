package isospec

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/appc/spec/schema/types"
)

// Kind groups isolators that replace each other when overridden.
func Kind(n types.ACIdentifier) string {
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
			override[Kind(iso.Name)] = true
		}
	}
	if image != nil {
		for _, iso := range image.Isolators {
			if !override[Kind(iso.Name)] {
				out = append(out, iso)
			}
		}
	}
	if pod != nil {
		out = append(out, pod.Isolators...)
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
		k := Kind(iso.Name)
		kept := app.Isolators[:0:0]
		for _, old := range app.Isolators {
			if Kind(old.Name) != k {
				kept = append(kept, old)
			}
		}
		app.Isolators = append(kept, iso)
	}
}
