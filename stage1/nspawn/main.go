// Command nspawn-stage1 is the host side of the nspawn stage1 flavor: one
// static binary installed in the stage1 rootfs as /nspawn-stage1, with the
// entrypoints /init, /enter, /stop and /gc as relative symlinks to it. It
// dispatches on the base name it was run as.
//
// Every entrypoint runs on the host with the pod directory as its working
// directory (stage0 sets it). The process protocol of a pod:
//
//	rkt (stage0) --exec--> /init --exec--> systemd-nspawn (pid = ppid file)
//	                                         `-- /supervisor (PID 1 in the pod)
//	                                               `-- apps, chrooted
//
// Invariants:
//   - /init writes the ppid file (its own pid) before it execs
//     systemd-nspawn, so the pid in ppid is the nspawn process, whose only
//     child is the pod's PID 1.
//   - The descriptor named by RKT_LOCK_FD stays open and not close-on-exec
//     across the exec; nspawn holds it (and so the pod's "running" lock)
//     until the pod exits.
//   - Nothing large is copied at run time: /init writes two small files and
//     creates the volume mount points, then execs.
//   - nspawn's exit code, which is the supervisor's, is the exit code of
//     /init and so of `rkt run`.
//
// An extra mode, `nspawn-stage1 enter-app NAME -- CMD...`, runs inside the
// pod (after /enter has joined its namespaces with nsenter) and chroots into
// the app.
package main

import "github.com/rkt/rkt/stage1/stage1cmd"

func main() {
	stage1cmd.Main("nspawn-stage1", map[string]func([]string) error{
		"init":      runInit,
		"enter":     runEnter,
		"enter-app": runEnterApp,
		"stop":      runStop,
		"gc":        runGC,
	})
}
