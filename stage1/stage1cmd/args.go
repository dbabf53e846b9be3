package stage1cmd

import (
	"errors"
	"fmt"
	"os"

	"github.com/rkt/rkt/common/entrypoint"
	"github.com/rkt/rkt/common/podlayout"
)

// ErrNoNsenter is returned by ParseEnter when nsenter (util-linux) is not
// installed on the host.
var ErrNoNsenter = errors.New("nsenter not found on PATH or in /usr/bin (install util-linux)")

// ParseRun reads the run entrypoint's arguments, checks the pod's UUID and
// returns them with the pod directory (the working directory stage0 gives
// every entrypoint).
func ParseRun(args []string) (entrypoint.RunArgs, string, error) {
	ra, err := entrypoint.ParseRunArgs(args)
	if err != nil {
		return entrypoint.RunArgs{}, "", err
	}
	pod, err := podDir("starting", ra.UUID)
	if err != nil {
		return entrypoint.RunArgs{}, "", err
	}
	return ra, pod, nil
}

// ParseGC reads the gc entrypoint's arguments, checks the pod's UUID and
// returns them with the pod directory.
func ParseGC(args []string) (entrypoint.GCArgs, string, error) {
	ga, err := entrypoint.ParseGCArgs(args)
	if err != nil {
		return entrypoint.GCArgs{}, "", err
	}
	pod, err := podDir("collecting", ga.UUID)
	if err != nil {
		return entrypoint.GCArgs{}, "", err
	}
	return ga, pod, nil
}

// ParseStop reads the stop entrypoint's arguments and checks the pod's
// UUID.
func ParseStop(args []string) (entrypoint.StopArgs, error) {
	sa, err := entrypoint.ParseStopArgs(args)
	if err != nil {
		return entrypoint.StopArgs{}, err
	}
	if err := podlayout.ValidUUID(sa.UUID); err != nil {
		return entrypoint.StopArgs{}, fmt.Errorf("stopping pod: %w", err)
	}
	return sa, nil
}

// ParseEnter reads the enter entrypoint's arguments, requires a command
// and finds the host's nsenter, returning its path (ErrNoNsenter when
// there is none).
func ParseEnter(args []string) (entrypoint.EnterArgs, string, error) {
	ea, err := entrypoint.ParseEnterArgs(args)
	if err != nil {
		return entrypoint.EnterArgs{}, "", err
	}
	if len(ea.Cmd) == 0 {
		return entrypoint.EnterArgs{}, "", errors.New("entering the pod: no command given")
	}
	nsenter, err := FindTool("nsenter", ErrNoNsenter)
	if err != nil {
		return entrypoint.EnterArgs{}, "", fmt.Errorf("entering app %q: %w", ea.AppName, err)
	}
	return ea, nsenter, nil
}

// podDir checks uuid and returns the working directory, the pod's;
// verb ("starting", "collecting") opens the errors.
func podDir(verb, uuid string) (string, error) {
	if err := podlayout.ValidUUID(uuid); err != nil {
		return "", fmt.Errorf("%s pod: %w", verb, err)
	}
	pod, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("%s pod %s: finding the pod directory: %w", verb, uuid, err)
	}
	return pod, nil
}
