// Package cgroups creates a pod's cgroups, applies the resource isolators
// to them, moves processes in, and removes them at gc. It writes cgroupfs
// directly (mkdir, control files, rmdir); it needs no systemd and no bus.
//
// Layouts: on a unified host (cgroup v2 only) limits go to the v2
// hierarchy; on a legacy host to the v1 controller hierarchies; on a
// hybrid host (v1 controllers plus a v2 hierarchy without controllers,
// usually at /sys/fs/cgroup/unified) to the v1 controllers, and the v2
// hierarchy is used for tracking and for cgroup.kill. A cgroup is one
// directory in every managed hierarchy: the v2 one and the v1 hierarchies
// of cpu, cpuacct, memory, devices, pids, freezer and blkio (cpuset and
// named hierarchies such as name=systemd are left alone).
//
// Where a pod lives:
//
//	<parent>/rkt-<uuid>/            the pod cgroup (no limits of its own)
//	<parent>/rkt-<uuid>/_stage1/    systemd-nspawn and the supervisor
//	<parent>/rkt-<uuid>/<app>/      one per app, with the app's limits
//
// <parent> is chosen by the caller: by default (Hierarchy.Self) the cgroup
// of the process that runs the stage1 entrypoint, in each hierarchy, so a
// pod started from a systemd unit stays under that unit (systemd's
// delegation model) and a pod started from a shell under the shell's
// cgroup; Hierarchy.At("/rkt.slice") is where the nspawn stage1 puts pods
// on a cgroup v2 host without systemd. On cgroup v2 the parent must hold
// no process once Create enables controllers in its subtree_control: the
// caller moves into the pod's _stage1 leaf first. Processes never live in a cgroup that has children with
// controllers (the cgroup v2 no-internal-process rule), hence the
// _stage1 leaf; "_stage1" is not a valid app name.
//
// Invariants:
//   - Nothing but mkdir, control-file writes and rmdir is done to
//     cgroupfs; a Cgroup is only a set of paths until Create.
//   - Create is idempotent for an existing directory; Destroy is
//     idempotent and kills every process of the tree (cgroup.kill on v2,
//     SIGKILL to each listed pid everywhere) before removing it deepest
//     first, so teardown never leaves a directory behind or races a fork.
//   - Destroy and Load only act on directories in a cgroup file system,
//     and Load only on pod cgroups (rkt-*): a record file can never make
//     gc kill or remove anything else.
//   - Device rules (Resources.Devices, DefaultDevices) go to devices.deny
//     and devices.allow on v1 and to an eBPF device program attached with
//     BPF_F_ALLOW_MULTI on v2; either way a child only narrows its parent.
//   - Limits that cannot be applied are errors (*ControllerError,
//     ErrInvalidResources), never skipped.
package cgroups
