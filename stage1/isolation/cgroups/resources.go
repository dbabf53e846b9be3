package cgroups

import (
	"fmt"
	"strconv"
)

// Resources are the limits of one cgroup. The zero value limits nothing.
type Resources struct {
	// MemoryLimit in bytes (resource/memory limit); 0: no limit. The limit
	// covers memory only: swap is not limited (rkt's behaviour).
	MemoryLimit int64
	// CPUMilli is the CPU limit in millicores (resource/cpu limit, 1000 =
	// one CPU); 0: no limit. It becomes a CFS quota over CPUPeriod.
	CPUMilli int64
	// CPUShares is the relative CPU weight (os/linux/cpu-shares, 2..262144,
	// 1024 is the kernel default); 0: leave the default. On cgroup v2 it is
	// converted to cpu.weight with SharesToWeight.
	CPUShares uint64
	// PidsLimit caps the number of tasks; 0: no limit.
	PidsLimit int64
	// Devices, when not nil, are the only devices the cgroup may access
	// (everything else is denied). nil leaves device access as inherited.
	// On cgroup v1 they are written to devices.deny/devices.allow; on v2
	// they are compiled to an eBPF device program attached to the cgroup
	// (each Set adds one more; all attached programs must allow an access).
	Devices []Device
}

// CPUPeriod is the CFS period, in microseconds, that CPU quotas are set
// over (the kernel's default, 100 ms).
const CPUPeriod = 100000

// minQuota is the kernel's smallest CFS quota (1 ms).
const minQuota = 1000

// CPUQuota converts a limit in millicores to a CFS quota in microseconds
// per CPUPeriod: 1000 millicores is a whole period; the result is never
// below the kernel's 1 ms minimum.
func CPUQuota(milli int64) int64 {
	q := milli * CPUPeriod / 1000
	if q < minQuota {
		q = minQuota
	}
	return q
}

// SharesToWeight converts cgroup v1 cpu.shares (2..262144) to cgroup v2
// cpu.weight (1..10000), mapping the ranges linearly end to end; the
// default 1024 shares becomes weight 39 (v2's default is 100, so a pod
// that sets no shares keeps the kernel default instead).
func SharesToWeight(shares uint64) uint64 {
	if shares < 2 {
		shares = 2
	}
	if shares > 262144 {
		shares = 262144
	}
	return 1 + ((shares-2)*9999)/262142
}

func (r Resources) validate() error {
	switch {
	case r.MemoryLimit < 0:
		return fmt.Errorf("%w: memory limit %d is negative", ErrInvalidResources, r.MemoryLimit)
	case r.CPUMilli < 0:
		return fmt.Errorf("%w: cpu limit %dm is negative", ErrInvalidResources, r.CPUMilli)
	case r.CPUShares != 0 && (r.CPUShares < 2 || r.CPUShares > 262144):
		return fmt.Errorf("%w: cpu shares %d not in 2..262144", ErrInvalidResources, r.CPUShares)
	case r.PidsLimit < 0:
		return fmt.Errorf("%w: pids limit %d is negative", ErrInvalidResources, r.PidsLimit)
	}
	for _, d := range r.Devices {
		if err := d.validate(); err != nil {
			return err
		}
	}
	return nil
}

// setting is one write into a control file of one hierarchy.
type setting struct {
	key        string // hierarchy key
	controller string // "memory", "cpu", "pids", "devices"
	file       string
	value      string
	devices    []Device // cgroup v2 device filter (file "")
}

// settings translates r into control file writes for h's layout, in the
// order they must be made. Limits go to the v2 hierarchy on a unified host
// and to the v1 controllers otherwise.
func (h *Hierarchy) settings(r Resources) ([]setting, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	var out []setting
	add := func(ctrl, file, value string) error {
		m, ok := h.limitMount(ctrl)
		if !ok {
			return &ControllerError{Controller: ctrl, Err: ErrControllerMissing}
		}
		out = append(out, setting{key: m.key, controller: ctrl, file: file, value: value})
		return nil
	}
	v2 := h.mode == Unified
	itoa := func(v int64) string { return strconv.FormatInt(v, 10) }
	var err error
	if r.MemoryLimit > 0 {
		if v2 {
			err = add("memory", "memory.max", itoa(r.MemoryLimit))
		} else {
			err = add("memory", "memory.limit_in_bytes", itoa(r.MemoryLimit))
		}
		if err != nil {
			return nil, err
		}
	}
	if r.CPUMilli > 0 {
		q := CPUQuota(r.CPUMilli)
		if v2 {
			err = add("cpu", "cpu.max", itoa(q)+" "+itoa(CPUPeriod))
		} else if err = add("cpu", "cpu.cfs_period_us", itoa(CPUPeriod)); err == nil {
			err = add("cpu", "cpu.cfs_quota_us", itoa(q))
		}
		if err != nil {
			return nil, err
		}
	}
	if r.CPUShares > 0 {
		if v2 {
			err = add("cpu", "cpu.weight", strconv.FormatUint(SharesToWeight(r.CPUShares), 10))
		} else {
			err = add("cpu", "cpu.shares", strconv.FormatUint(r.CPUShares, 10))
		}
		if err != nil {
			return nil, err
		}
	}
	if r.PidsLimit > 0 {
		if err := add("pids", "pids.max", itoa(r.PidsLimit)); err != nil {
			return nil, err
		}
	}
	if r.Devices != nil {
		if v2 {
			out = append(out, setting{key: UnifiedKey, controller: "devices", devices: r.Devices})
			return out, nil
		}
		if err := add("devices", "devices.deny", "a"); err != nil {
			return nil, err
		}
		for _, d := range r.Devices {
			out = append(out, setting{key: out[len(out)-1].key, controller: "devices", file: "devices.allow", value: d.String()})
		}
	}
	return out, nil
}
