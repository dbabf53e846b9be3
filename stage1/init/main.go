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
//	  pre-start handlers, as root, chrooted; one failing fails the app
//	  the app, chrooted, as its user, in its process group
//	  post-stop handlers, as root, chrooted (also when the pod stops)
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
//   - With one app its stdout and stderr are the supervisor's own; with
//     several, every line carries rkt's "app[pid]: " prefix.
//   - sd_notify READY=1 goes to NOTIFY_SOCKET once every app started, or,
//     for apps annotated appc.io/executor/supports-systemd-notify=true,
//     once they sent READY=1 on their own socket (/run/rkt/notify).
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
	"syscall"
)

// Signals that ask the pod to stop. systemd-nspawn forwards its own
// SIGTERM as --kill-signal; SIGRTMIN+3 and SIGRTMIN+4 are what an init
// system is sent to halt or power off.
var stopSignals = []os.Signal{
	syscall.SIGTERM, syscall.SIGINT, syscall.Signal(37), syscall.Signal(38),
}

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
		return 254
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

	ctx, cancel := signal.NotifyContext(context.Background(), stopSignals...)
	defer cancel()

	s := &Supervisor{
		Root: "/", Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Log: log, Level: level, NotifySocket: os.Getenv("NOTIFY_SOCKET"),
	}
	code, err := s.Run(ctx.Done())
	if err != nil {
		fmt.Fprintf(os.Stderr, "supervisor: %v\n", err)
	}
	return code
}
