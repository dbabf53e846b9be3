package podlayout

import (
	"errors"
	"syscall"
	"testing"

	"github.com/appc/spec/schema/types"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{
		"SIGQUIT": syscall.SIGQUIT, "quit": syscall.SIGQUIT, " SIGUSR1 ": syscall.SIGUSR1,
		"9": syscall.SIGKILL, "SIGRTMIN+3": 37, "RTMIN": 34, "SIGRTMAX-1": 63, "sigwinch": syscall.SIGWINCH,
	} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "SIGNOPE", "0", "65", "SIGRTMIN+31", "SIGRTMAX-31", "SIGRTMIN+x"} {
		if _, err := ParseSignal(bad); !errors.Is(err, ErrBadSignal) {
			t.Errorf("ParseSignal(%q): %v, want ErrBadSignal", bad, err)
		}
	}
}

func TestStopSignal(t *testing.T) {
	ann := func(v string) types.Annotations {
		var a types.Annotations
		a.Set(AnnotationStopSignal, v)
		return a
	}
	for _, c := range []struct {
		image, app types.Annotations
		want       syscall.Signal
	}{
		{nil, nil, syscall.SIGTERM},
		{ann("SIGQUIT"), nil, syscall.SIGQUIT},
		{ann("SIGQUIT"), ann("USR1"), syscall.SIGUSR1},
		{nil, ann("2"), syscall.SIGINT},
	} {
		if got, err := StopSignal(c.image, c.app); err != nil || got != c.want {
			t.Errorf("StopSignal(%v, %v) = %v, %v; want %v", c.image, c.app, got, err, c.want)
		}
	}
	if _, err := StopSignal(ann("SIGNOPE"), nil); !errors.Is(err, ErrBadSignal) {
		t.Errorf("StopSignal of a bad annotation: %v, want ErrBadSignal", err)
	}
}
