package main

import (
	"os"
	"strconv"
	"syscall"

	"github.com/appc/spec/schema"
	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/stage1/appexec"
)

// Socket activation, as rkt 1.30 did it: a systemd .socket unit on the
// host hands its listening sockets to rkt run (LISTEN_FDS, LISTEN_PID),
// which keeps them open through stage0, the nspawn stage1 and
// systemd-nspawn, which passes them on to the pod's PID 1 (this
// supervisor) as fds 3.. with LISTEN_PID=1. The supervisor gives each
// socket to the app with a socketActivated port of the socket's port
// number (the port's host port when the pod manifest exposes it, else the
// app's port); with one such app, that app gets every socket. The app
// gets them as fds 3.. with LISTEN_FDS and its own LISTEN_PID, through
// the exec stub (execstub.go).

// listenFiles takes the sockets the supervisor was started with (none
// when LISTEN_FDS is not set for it: nothing is read or allocated then)
// and sorts them by the app that gets them.
func listenFiles(pm *schema.PodManifest, specs []appSpec) map[string][]*os.File {
	if os.Getenv("LISTEN_FDS") == "" {
		return nil
	}
	files := inheritedSockets()
	if len(files) == 0 {
		return nil
	}
	hostPort := map[string]uint{}
	if pm != nil {
		for _, p := range pm.Ports {
			hostPort[p.Name.String()] = p.HostPort
		}
	}
	wants := map[string]map[uint]bool{} // app -> port numbers
	var activated []string
	for _, sp := range specs {
		for _, p := range sp.App.Ports {
			if !p.SocketActivated {
				continue
			}
			if wants[sp.Name] == nil {
				wants[sp.Name] = map[uint]bool{}
				activated = append(activated, sp.Name)
			}
			port := p.Port
			if hp, ok := hostPort[p.Name.String()]; ok && hp != 0 {
				port = hp
			}
			wants[sp.Name][port] = true
		}
	}
	out := map[string][]*os.File{}
	for _, f := range files {
		switch {
		case len(activated) == 1:
			out[activated[0]] = append(out[activated[0]], f)
		case len(activated) > 1:
			port, ok := localPort(f)
			for _, name := range activated {
				if ok && wants[name][port] {
					out[name] = append(out[name], f)
					break
				}
			}
		}
	}
	return out
}

// inheritedSockets is sd_listen_fds(3) with unset_environment: the
// descriptors 3.. that LISTEN_FDS counts when LISTEN_PID names this
// process, made close-on-exec, and LISTEN_* removed from the environment.
// Not go-systemd's activation.Files: that package links crypto/tls into
// the supervisor (+650 KB, see Documentation/devel/libraries.md).
func inheritedSockets() []*os.File {
	defer func() {
		for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
			os.Unsetenv(v)
		}
	}()
	n := appexec.ListenFDs()
	if n == 0 {
		return nil
	}
	first := appexec.ListenFDsStart
	files := make([]*os.File, 0, n)
	for fd := first; fd < first+n; fd++ {
		syscall.CloseOnExec(fd)
		files = append(files, os.NewFile(uintptr(fd), "listen-fd-"+strconv.Itoa(fd)))
	}
	return files
}

// localPort is the port a socket is bound to.
func localPort(f *os.File) (uint, bool) {
	sa, err := unix.Getsockname(int(f.Fd()))
	if err != nil {
		return 0, false
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return uint(a.Port), true
	case *unix.SockaddrInet6:
		return uint(a.Port), true
	}
	return 0, false
}
