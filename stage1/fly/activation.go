package main

import (
	"os"
	"strconv"
	"syscall"

	"github.com/appc/spec/schema/types"
	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/stage1/appexec"
)

// listenEnv hands the app the sockets a socket unit gave rkt run, the
// sd_listen_fds(3) way, as the nspawn stage1 does: when LISTEN_PID names
// this process (rkt run became it by exec, and it becomes the app) and
// the app has a socket-activated port, the LISTEN_FDS sockets stay open as
// fds 3.. across the exec and the app gets LISTEN_FDS, LISTEN_PID and
// LISTEN_FDNAMES (appexec.ListenFDNames). Otherwise the sockets are closed
// on exec and nothing is returned.
func listenEnv(name string, app *types.App) []string {
	n := appexec.ListenFDs()
	if n == 0 {
		return nil
	}
	activated := false
	for _, p := range app.Ports {
		activated = activated || p.SocketActivated
	}
	for fd := appexec.ListenFDsStart; fd < appexec.ListenFDsStart+n; fd++ {
		if !activated {
			syscall.CloseOnExec(fd)
		} else if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return nil
		}
	}
	if !activated {
		return nil
	}
	return []string{
		"LISTEN_FDS=" + strconv.Itoa(n),
		"LISTEN_PID=" + strconv.Itoa(os.Getpid()),
		"LISTEN_FDNAMES=" + appexec.ListenFDNames(name, n),
	}
}
