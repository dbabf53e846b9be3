package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/rkt/rkt/stage0/pod"
	"github.com/spf13/cobra"
)

// waitValue is --wait and --wait-ready: a bool (wait without limit) or a
// duration (wait at most that long).
type waitValue struct {
	on      bool
	timeout time.Duration // 0: no limit
}

func (w *waitValue) String() string {
	switch {
	case w.on && w.timeout > 0:
		return w.timeout.String()
	case w.on:
		return "true"
	}
	return "false"
}

func (w *waitValue) Set(s string) error {
	if b, err := strconv.ParseBool(s); err == nil {
		w.on, w.timeout = b, 0
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("%q is neither a boolean nor a duration", s)
	}
	w.on, w.timeout = d > 0, d
	return nil
}

func (w *waitValue) Type() string { return "bool|duration" }

func newStatusCmd(g *globalFlags) *cobra.Command {
	var (
		wait, waitReady waitValue
		format          string
		uuidFile        string
	)
	cmd := &cobra.Command{
		Use:   "status [--wait[=bool|duration]] [--wait-ready[=bool|duration]] UUID",
		Short: "Check the status of a rkt pod",
		Args:  usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			p, err := g.argPod(cmd, args, uuidFile)
			if err != nil {
				return err
			}
			if waitReady.on {
				if err := waitFor(cmd.Context(), waitReady.timeout, p.WaitReady); err != nil {
					return err
				}
			}
			if wait.on {
				if err := waitFor(cmd.Context(), wait.timeout, p.WaitExited); err != nil {
					return err
				}
			}
			d, err := describePod(p)
			if err != nil {
				return err
			}
			if format == formatJSON || format == formatJSONPretty {
				return printJSON(g.stdout, d.Pod, format == formatJSONPretty)
			}
			printStatus(g, d)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.Var(&wait, "wait", "toggles waiting for the pod to exit; a duration waits at most that long")
	fl.Lookup("wait").NoOptDefVal = "true"
	fl.Var(&waitReady, "wait-ready", "toggles waiting until the pod is ready; a duration waits at most that long")
	fl.Lookup("wait-ready").NoOptDefVal = "true"
	fl.StringVar(&format, "format", "", "choose the output format, allowed format includes 'json', 'json-pretty'. If empty, then the result is printed as key value pairs")
	uuidFileFlag(cmd, &uuidFile)
	return cmd
}

// errWaitTimeout is a --wait or --wait-ready that ran out of time.
var errWaitTimeout = errors.New("timed out waiting for the pod")

// waitFor runs wait with the timeout applied (0: none).
func waitFor(ctx context.Context, timeout time.Duration, wait func(context.Context) error) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err := wait(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (%s)", errWaitTimeout, timeout)
	}
	return err
}

// printStatus prints rkt's key=value lines.
func printStatus(g *globalFlags, d *podDesc) {
	w := g.stdout
	fmt.Fprintf(w, "state=%s\n", d.State)
	if !d.created.IsZero() {
		fmt.Fprintf(w, "created=%s\n", d.created.Format(timeLayout))
	}
	if !d.started.IsZero() {
		fmt.Fprintf(w, "started=%s\n", d.started.Format(timeLayout))
	}
	state := pod.State(d.State)
	if !state.AfterRun() {
		return
	}
	fmt.Fprintf(w, "networks=%s\n", fmtNetworks(d.Networks))
	pid := d.pid
	if pid == 0 {
		pid = -1
	}
	fmt.Fprintf(w, "pid=%d\nexited=%t\n", pid, state.Exited())
	if state == pod.Running {
		return
	}
	for _, a := range d.apps {
		if a.exitCode != nil {
			fmt.Fprintf(w, "app-%s=%d\n", a.name, *a.exitCode)
		}
	}
}
