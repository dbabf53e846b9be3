// Command fly-stage1 is the fly stage1 flavor: one static binary installed
// in the stage1 rootfs as /fly-stage1, with the entrypoints /run, /enter,
// /stop and /gc as relative symlinks to it, dispatching on the base name
// it was run as. Every entrypoint runs on the host with the pod directory
// as its working directory.
//
// run runs exactly one app, with no supervisor:
//
//	rkt (stage0) --exec--> /run --unshare(mount ns), mounts, chroot--exec--> app
//
// so the pid written to the pod's pid file is the app's own, the app's
// exit code is `rkt run`'s, and the app shares the host's network, PID,
// IPC and UTS namespaces (--net and --hostname are ignored).
//
// Isolation: fly confines nothing beyond the chroot and the mount
// namespace. The app runs as root with the whole capability set of rkt's
// caller (or as its user, with setuid and file capabilities working), with
// no seccomp filter and no no_new_privs, in the caller's cgroup with no
// resource limit and no oom_score_adj, seeing the host's /proc, /sys and
// /dev unmasked, and sharing the host's network, PID, IPC, UTS and user
// namespaces. Every isolator the app asks for (resource/memory,
// resource/cpu, os/linux/cpu-shares, os/linux/oom-score-adj, the
// capabilities and seccomp sets, os/linux/no-new-privileges, and any
// other) is reported on stderr before the app starts, one line each:
// "<app>: isolator <name> not applied: <reason>". --insecure-options
// changes nothing here: nothing it turns off is on.
//
// Invariants:
//   - The app's mounts (/proc, /sys, /dev and its volumes, under
//     stage1/rootfs/opt/stage2/<app>/rootfs) are made in a mount
//     namespace of the app's own, a slave of the host's: they never appear
//     on the host and vanish with the app. gc still unmounts anything left
//     under the app's rootfs.
//   - pid and pgid are written (atomically) before the exec; the app leads
//     its own process group, so stop can signal the group.
//   - The descriptor named by RKT_LOCK_FD is inherited by the app, which
//     so holds the pod's "running" lock for its whole life.
package main

import "github.com/rkt/rkt/stage1/stage1cmd"

func main() {
	stage1cmd.Main("fly-stage1", map[string]func([]string) error{
		"run":   runRun,
		"enter": runEnter,
		"stop":  runStop,
		"gc":    runGC,
	})
}
