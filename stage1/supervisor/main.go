// Command supervisor is the pod's PID 1 in the nspawn stage1 (installed as
// /supervisor in stage1-nspawn.aci). systemd-nspawn starts it with "/" =
// the stage1 rootfs; it reads /rkt/pod, /rkt/runtime-config and every
// /opt/stage2/<app>/manifest, and runs every app at once:
//
//	for each app, concurrently (one runner per app):
//	  prepare   /opt/stage2/<app>/rootfs gets /proc, /sys (ro), a tmpfs /dev
//	            with null zero full random urandom tty, devpts, shm, /tmp,
//	            /etc/resolv.conf and /etc/hosts, its volumes bound from
//	            /rkt/volumes/<volume>; user and environment resolved
//	            (environment recorded in /rkt/env/<app>)
//	  isolators parsed (image's app, pod manifest's app over it); every
//	            one that cannot be applied printed on stderr as
//	            "<app>: isolator <name> not applied: <reason>"; sensitive
//	            /proc and /sys paths masked or made read-only (unless
//	            --insecure-options=paths); the app's confinement recorded
//	            in /rkt/isolation/<app>.json for enter
//	  pre-start handlers, as root, confined; one failing fails the app
//	  the app, confined, as its user, in its process group
//	  post-stop handlers, as root, confined (also when the pod stops)
//
// Every process of an app starts through the exec stub (execstub.go): the
// supervisor re-executes itself as "/supervisor --exec-app", which joins
// the app's cgroups (/rkt/cgroup/<key>/<app>, made on the host by the
// nspawn /init), sets its oom_score_adj and, on one thread, chroots, limits
// the bounding set, switches ids, sets the capabilities (rkt's default set
// or the isolators'; none for a non-root user; the pod's whole set with
// --insecure-options=capabilities), no_new_privs, and the seccomp filter
// (the default profile or the isolators', always over the nspawn-equivalent
// baseline; none with --insecure-options=seccomp), then execs the app.
// Filters are compiled once per profile and kept for the pod's life.
//
// Each runner reports its app's life as events (preparing, running,
// exited) to one sink, the only writer of /rkt/status/<app>{,-created,
// -started} and of /rkt/supervisor-status (-> ready, once every app runs).
// The supervisor waits on conditions (every app started, the first
// failure, every app done), never on sleeps.
//
// Invariants:
//   - The supervisor is the only caller of wait(2): it reaps every zombie
//     of the pod and hands each exit to the runner that started the
//     process.
//   - The first app that fails (non-zero exit, or a failing pre-start
//     handler) stops the pod: SIGTERM to every other app's process group,
//     SIGKILL after the runtime config's StopTimeout (10 s by default);
//     post-stop handlers still run. SIGTERM, SIGINT or SIGRTMIN+3 to the
//     supervisor stops the pod the same way. Exits after the pod began
//     stopping are not failures.
//   - The exit code is the first failing app's code (128+signal for a
//     killed app), 0 when every app succeeded, 254 when the pod could not
//     be started.
//   - Every mount target inside an app is resolved with chroot semantics
//     and opened through os.Root before anything is mounted on it: nothing
//     from an image can redirect a mount outside its rootfs.
//   - No app process runs less confined than its isolators ask: an
//     isolator that cannot be read fails the app (254); one that cannot be
//     applied is reported before the app starts, never dropped silently.
//   - An interactive app's stdout and stderr are the supervisor's own
//     (the terminal). Other apps' output is piped and copied to the
//     console, unchanged with one app; with several, every console line
//     carries rkt's "app[pid]: " prefix. When /run/systemd/journal/socket
//     exists (stage1 binds the host's) every line also goes to the
//     journal with SYSLOG_IDENTIFIER, RKT_APP and RKT_POD_UUID (and
//     /rkt/logs-to-journal says so); a console stream that is the journal
//     (JOURNAL_STREAM) gets no copy. Without it, every line also goes to
//     the app's log file, /rkt/log/<app> (logfile.go).
//   - sd_notify READY=1 goes to NOTIFY_SOCKET once every app started, or,
//     for apps annotated appc.io/executor/supports-systemd-notify=true,
//     once they sent READY=1 on their own socket (/run/rkt/notify).
//   - Sockets passed to the pod (LISTEN_FDS) go to the apps with
//     socketActivated ports, as fds 3.. with their own LISTEN_PID
//     (activation.go).
//
// It imports only common/... and the appc schema, and is built static.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

// Signals that ask the pod to stop. systemd-nspawn forwards its own
// SIGTERM as --kill-signal; SIGRTMIN+3 and SIGRTMIN+4 are what an init
// system is sent to halt or power off.
var stopSignals = []os.Signal{
	syscall.SIGTERM, syscall.SIGINT, syscall.Signal(37), syscall.Signal(38),
}

// The main goroutine keeps the main thread for itself: spawn (spawn.go)
// confines locked threads and lets them end, and the Go runtime cannot
// end the main thread, which would stay confined as the app.
func init() { runtime.LockOSThread() }

func main() {
	if len(os.Args) > 1 && os.Args[1] == execAppFlag {
		os.Exit(execApp())
	}
	os.Exit(supervise(os.Args[1:]))
}

func supervise(args []string) int {
	fs := flag.NewFlagSet("supervisor", flag.ContinueOnError)
	debug := fs.Bool("debug", false, "log every app event to stderr")
	if err := fs.Parse(args); err != nil {
		return exitFailed
	}
	level := new(slog.LevelVar)
	level.Set(slog.LevelWarn)
	if *debug {
		level.Set(slog.LevelDebug)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})).With("component", "supervisor")

	if err := setAppNofile(); err != nil {
		log.Warn("setting the apps' open file limit", "err", err)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), stopSignals...)
	defer cancel()

	s := &Supervisor{
		Root: "/", Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Log: log, Level: level,
	}
	code, err := s.Run(ctx.Done())
	if err != nil {
		fmt.Fprintf(os.Stderr, "supervisor: %v\n", err)
	}
	return code
}
