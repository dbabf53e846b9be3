package main

import (
	"strings"
	"testing"
)

// The isolation and networking flags are checked before any image is
// fetched: a bad value is a usage error (exit 254, as in rkt 1.30) naming the flag.
func TestRunIsolationAndNetworkFlagsUsage(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"run", "--net=default,default", "example.com/app"}, "given twice"},
		{[]string{"run", "--net=host,default", "example.com/app"}, "cannot be combined"},
		{[]string{"run", "--net=all:IP=10.0.0.1", "example.com/app"}, "takes no arguments"},
		{[]string{"run", "--net=../etc", "example.com/app"}, "network name"},
		{[]string{"run", "--dns=host", "--dns=1.1.1.1", "example.com/app"}, "--dns"},
		{[]string{"run", "example.com/app", "--memory=lots"}, "--memory"},
		{[]string{"run", "example.com/app", "--cpu-shares=1"}, "--cpu-shares"},
		{[]string{"run", "example.com/app", "--oom-score-adj=5000"}, "--oom-score-adj"},
		{[]string{"run", "example.com/app", "--caps-retain=CAP_NOPE"}, "--caps-retain"},
		{[]string{"run", "example.com/app", "--caps-retain=CAP_CHOWN", "--caps-remove=CAP_KILL"}, "cannot both be given"},
		{[]string{"run", "example.com/app", "--seccomp=read"}, "mode"},
		{[]string{"prepare", "--port=http", "example.com/app"}, "--port"},
		{[]string{"run-prepared", "--net=none,default", "x"}, "cannot be combined"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := e.rkt(t, "", tc.args...)
			if r.code != 254 || !strings.HasPrefix(r.stderr, tc.args[0]+": ") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d stderr %q, want 254 and %q", r.code, r.stderr, tc.want)
			}
		})
	}
}
