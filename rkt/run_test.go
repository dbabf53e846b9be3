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

// run and prepare parse their flags with cobra: the pod flags and the
// per-image flags are listed by --help (and so in the man pages and
// completions made from the command tree), each command without the other's.
func TestRunPrepareHelpListsTheirFlags(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		cmd          string
		want, unwant []string
	}{
		{"run", []string{"--volume", "--net", "--dns", "--hostname", "--stage1-path", "--exec", "--mount", "--memory", "Image flags, given after an image"}, []string{"--quiet", "--store-only", "--cap-retain"}},
		{"prepare", []string{"--volume", "--quiet", "--pod-manifest", "--exec", "--user-label"}, []string{"--net", "--dns", "--interactive"}},
	} {
		r := e.rkt(t, "", tc.cmd, "--help")
		if r.code != 0 {
			t.Fatalf("%s --help: exit %d %q", tc.cmd, r.code, r.stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%s --help does not list %s:\n%s", tc.cmd, w, r.stdout)
			}
		}
		for _, u := range tc.unwant {
			if strings.Contains(r.stdout, "  "+u+" ") {
				t.Errorf("%s --help lists %s:\n%s", tc.cmd, u, r.stdout)
			}
		}
		// -help, and help asked for before a bad flag, show the help as
		// rkt's reader of the whole vector did.
		for _, args := range [][]string{{tc.cmd, "-help"}, {tc.cmd, "--help", "--frob"}} {
			if r := e.rkt(t, "", args...); r.code != 0 || !strings.Contains(r.stdout, "--volume") {
				t.Errorf("%q: exit %d %q", args, r.code, r.stderr)
			}
		}
		// Help after an image too, as rkt 1.30 gave it.
		if r := e.rkt(t, "", tc.cmd, "example.com/app", "--exec=/bin/sh", "-h"); r.code != 0 || !strings.Contains(r.stdout, "--volume") {
			t.Errorf("%s IMAGE -h: exit %d %q", tc.cmd, r.code, r.stderr)
		}
	}
}

// Pod and global flags may follow an image; per-image and run-only flags
// keep rkt 1.30's messages whichever parser meets them.
func TestRunPrepareFlagPlacement(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		want string // stderr prefix
	}{
		{[]string{"run", "--exec=/bin/sh", "example.com/app"}, "run: --exec must follow an image\n"},
		{[]string{"prepare", "--net=host", "example.com/app"}, "prepare: unknown flag: --net (prepare does not take it; give it to run-prepared)\n"},
		{[]string{"prepare", "example.com/app", "--interactive"}, "prepare: unknown flag: --interactive (prepare does not take it; give it to run-prepared)\n"},
		{[]string{"run", "--quiet", "example.com/app"}, "run: unknown flag: --quiet\n"},
		{[]string{"run", "--", "example.com/app"}, "run: arguments (--) must follow an image\n"},
		{[]string{"run", "example.com/app", "---"}, "run: --- must end the arguments of an image, started by --\n"},
		{[]string{"run", "---", "example.com/app"}, "run: --- must end the arguments of an image, started by --\n"},
		{[]string{"run", "example.com/app", "--readonly-rootfs=maybe"}, "run: invalid argument \"maybe\" for --readonly-rootfs: want true or false\n"},
		{[]string{"run", "--readonly-rootfs=maybe"}, "run: --readonly-rootfs must follow an image\n"},
		{[]string{"run", "example.com/app", "--frob"}, "run: unknown flag: --frob\n"},
		{[]string{"run", "--frob", "example.com/app"}, "run: unknown flag: --frob\n"},
		{[]string{"run", "example.com/app", "--exec"}, "run: flag needs an argument: --exec\n"},
		{[]string{"run", "example.com/app", "--insecure-options=bogus"}, "run: invalid argument \"bogus\" for --insecure-options"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := e.rkt(t, "", tc.args...)
			if r.code != 254 || !strings.HasPrefix(r.stderr, tc.want) || !strings.Contains(r.stderr, "--help' for usage") {
				t.Errorf("exit %d stderr %q, want 254 and %q", r.code, r.stderr, tc.want)
			}
		})
	}
}
