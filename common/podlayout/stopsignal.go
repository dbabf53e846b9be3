package podlayout

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/appc/spec/schema/types"
	"golang.org/x/sys/unix"
)

// ErrBadSignal: a stop signal that names no signal.
var ErrBadSignal = errors.New("not a signal")

// StopSignal is the signal that asks an app to stop: the value of
// AnnotationStopSignal in the pod manifest's app annotations, else in the
// image's, else SIGTERM. Both stage1 flavors send it on a stop.
func StopSignal(image, podApp types.Annotations) (syscall.Signal, error) {
	sig := syscall.SIGTERM
	for _, anns := range []types.Annotations{image, podApp} {
		if v, ok := anns.Get(AnnotationStopSignal); ok {
			s, err := ParseSignal(v)
			if err != nil {
				return 0, fmt.Errorf("annotation %s: %w", AnnotationStopSignal, err)
			}
			sig = s
		}
	}
	return sig, nil
}

// ParseSignal reads a signal as OCI images and Docker spell it: a name
// with or without "SIG" ("SIGQUIT", "quit"), "SIGRTMIN+N" or "SIGRTMAX-N"
// (with the C library's SIGRTMIN, 34), or a number.
func ParseSignal(s string) (syscall.Signal, error) {
	v := strings.ToUpper(strings.TrimSpace(s))
	if n, err := strconv.Atoi(v); err == nil {
		if n < 1 || n > sigRTMax {
			return 0, fmt.Errorf("%w: %q", ErrBadSignal, s)
		}
		return syscall.Signal(n), nil
	}
	if !strings.HasPrefix(v, "SIG") {
		v = "SIG" + v
	}
	for _, rt := range []struct {
		prefix string
		base   int
		sign   int
	}{{"SIGRTMIN+", sigRTMin, 1}, {"SIGRTMAX-", sigRTMax, -1}} {
		if rest, ok := strings.CutPrefix(v, rt.prefix); ok {
			n, err := strconv.Atoi(rest)
			sig := rt.base + rt.sign*n
			if err != nil || n < 0 || sig < sigRTMin || sig > sigRTMax {
				return 0, fmt.Errorf("%w: %q", ErrBadSignal, s)
			}
			return syscall.Signal(sig), nil
		}
	}
	switch v {
	case "SIGRTMIN":
		return syscall.Signal(sigRTMin), nil
	case "SIGRTMAX":
		return syscall.Signal(sigRTMax), nil
	}
	if sig := unix.SignalNum(v); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrBadSignal, s)
}

// The real-time signals as the C library numbers them (the kernel's
// first two are its own).
const (
	sigRTMin = 34
	sigRTMax = 64
)
