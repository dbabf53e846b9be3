package podspec

import (
	"strconv"

	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/common/isospec"
)

// Isolators are the isolators an app's flags stand for, in the order
// memory, cpu, cpu-shares, oom-score-adj, capabilities, seccomp. Manifest
// puts them into the app's copy of its image's app, each replacing the
// image's isolators of its kind (isospec.Override): the flags win.
// Errors are usage errors naming the image and the flag.
//
// stage0 parses and validates with the isolator grammar (isospec) only;
// stage1 applies them.
func (a *App) Isolators() (types.Isolators, error) {
	out, err := isospec.FromFlags(isospec.Flags{
		Memory: a.Memory, CPU: a.CPU, CPUShares: a.CPUShares, OOMScoreAdj: a.OOMScoreAdj,
	})
	if err != nil {
		return nil, usageWrap(err, "image %q", a.Image)
	}
	capIso, err := a.capsIsolator()
	if err != nil {
		return nil, err
	}
	if capIso != nil {
		out = append(out, *capIso)
	}
	scIso, err := a.seccompIsolator()
	if err != nil {
		return nil, err
	}
	if scIso != nil {
		out = append(out, *scIso)
	}
	return out, nil
}

// capsIsolator is os/linux/capabilities-retain-set (--caps-retain) or
// -remove-set (--caps-remove), with the names normalized (CAP_NET_ADMIN);
// nil when neither flag was given.
func (a *App) capsIsolator() (*types.Isolator, error) {
	flag, list := "caps-retain", a.CapsRetain
	switch {
	case a.CapsRetain != "" && a.CapsRemove != "":
		return nil, usagef("image %q: --caps-retain and --caps-remove cannot both be given", a.Image)
	case a.CapsRemove != "":
		flag, list = "caps-remove", a.CapsRemove
	case a.CapsRetain == "":
		return nil, nil
	}
	set, err := isospec.ParseCapList(list)
	if err != nil {
		return nil, usageWrap(err, "image %q: parsing --%s", a.Image, flag)
	}
	if set == 0 {
		return nil, usagef("image %q: --%s needs at least one capability", a.Image, flag)
	}
	var iso *types.Isolator
	if flag == "caps-retain" {
		var s *types.LinuxCapabilitiesRetainSet
		if s, err = types.NewLinuxCapabilitiesRetainSet(set.Names()...); err == nil {
			iso, err = s.AsIsolator()
		}
	} else {
		var s *types.LinuxCapabilitiesRevokeSet
		if s, err = types.NewLinuxCapabilitiesRevokeSet(set.Names()...); err == nil {
			iso, err = s.AsIsolator()
		}
	}
	if err != nil {
		return nil, usageWrap(err, "image %q: --%s", a.Image, flag)
	}
	return iso, nil
}

// seccompIsolator is os/linux/seccomp-retain-set or -remove-set from
// --seccomp=mode=retain|remove[,errno=E],SYSCALL|@GROUP,...; nil without
// the flag.
func (a *App) seccompIsolator() (*types.Isolator, error) {
	if a.Seccomp == "" {
		return nil, nil
	}
	p, err := isospec.ParseSeccompFlag(a.Seccomp)
	if err != nil {
		return nil, usageWrap(err, "image %q", a.Image)
	}
	var iso *types.Isolator
	switch p.Mode {
	case isospec.SeccompRetain:
		var s *types.LinuxSeccompRetainSet
		if s, err = types.NewLinuxSeccompRetainSet(p.Errno, p.Syscalls...); err == nil {
			iso, err = s.AsIsolator()
		}
	case isospec.SeccompRemove:
		var s *types.LinuxSeccompRemoveSet
		if s, err = types.NewLinuxSeccompRemoveSet(p.Errno, p.Syscalls...); err == nil {
			iso, err = s.AsIsolator()
		}
	default:
		return nil, usagef("image %q: --seccomp=%q: want mode=retain or mode=remove", a.Image, a.Seccomp)
	}
	if err != nil {
		return nil, usageWrap(err, "image %q: --seccomp=%q", a.Image, a.Seccomp)
	}
	return iso, nil
}

// appString is the setter of a per-image string flag that may be given
// once per image; values are checked by Isolators once the vector is read.
func appString(flag string, field func(*App) *string) func(*parser, string) error {
	return func(p *parser, v string) error {
		dst := field(p.cur())
		if err := p.once(flag, *dst != ""); err != nil {
			return err
		}
		*dst = v
		return nonEmpty(flag, v)
	}
}

// appInt is the setter of a per-image integer flag that may be given once
// per image; want says which numbers it takes.
func appInt(flag, want string, field func(*App) **int) func(*parser, string) error {
	return func(p *parser, v string) error {
		dst := field(p.cur())
		if err := p.once(flag, *dst != nil); err != nil {
			return err
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return usagef("--%s=%q: want %s", flag, v, want)
		}
		*dst = &n
		return nil
	}
}

// deprecatedAlias sets flag through set with a warning naming the new
// name (rkt's --cap-retain and --cap-remove).
func deprecatedAlias(old, repl string, set func(*parser, string) error) func(*parser, string) error {
	return func(p *parser, v string) error {
		p.plan.Warnings = append(p.plan.Warnings, "--"+old+" is deprecated: use --"+repl)
		return set(p, v)
	}
}
