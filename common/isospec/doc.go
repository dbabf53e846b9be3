// Package isospec is the grammar of app isolators that both stages speak:
// the capability names of --caps-retain and --caps-remove, the --seccomp
// flag (modes, errno names, syscall and @group names), the resource flags
// (--memory, --cpu, --cpu-shares, --oom-score-adj) as appc isolators, and
// how the pod manifest's isolators override the image's (Override, Merge).
//
// stage0 uses it to validate flags and write the pod manifest; stage1's
// isolation packages (caps, seccomp, isolators, cgroups) apply what the
// manifest says. Nothing here touches the kernel: no cgroup, no BPF
// program, no capability call, so linking it costs stage0 no syscall
// tables and no cgroup code.
//
// Invariants:
//   - A value this package accepts is one stage1 accepts: the syscall and
//     group names are checked against the same lists stage1 compiles from
//     (a stage1 test compares them), and isolators are built through appc's
//     own JSON decoding, so appc's validation accepts them too.
//   - The pod manifest's app wins over the image's, per isolator kind; the
//     capability isolators (retain, remove) count as one kind, and so do
//     the seccomp ones, since a set of one kind replaces the other.
package isospec
