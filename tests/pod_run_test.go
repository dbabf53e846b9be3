package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
)

// TestPodRunExitCode runs one-app pods through the nspawn stage1: the app's
// output reaches rkt's stdout and rkt run exits with the app's code.
func TestPodRunExitCode(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	ok := pe.shImage("hello", "echo hello-from-pod")
	out := pe.runOK(ok)
	if !hasLine(out, "hello-from-pod") {
		t.Errorf("rkt run stdout lacks the app's line hello-from-pod:\n%s", out)
	}
	failing := pe.shImage("failing", "echo about-to-fail; exit 7")
	out, _, code := pe.run(failing)
	if code != 7 {
		t.Errorf("rkt run of an app exiting 7: exit %d, want 7", code)
	}
	if !hasLine(out, "about-to-fail") {
		t.Errorf("rkt run stdout lacks the failing app's line:\n%s", out)
	}
}

// TestPodRunThreeApps runs three apps in one pod: all start together, the
// first app to fail stops the pod and its code is rkt run's, and every line
// of output names its app.
func TestPodRunThreeApps(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	quick := pe.shImage("quick", "echo line-of-quick; exit 0")
	failer := pe.shImage("failer", "sleep 1; echo line-of-failer; exit 5")
	// The slow one would exit 9, but the pod is stopped before that.
	slow := pe.shImage("slow", "echo line-of-slow; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; exit 9")
	uuid, out, _, code := pe.runSaved(quick, failer, slow)
	if code != 5 {
		t.Errorf("rkt run of three apps where failer exits 5 first: exit %d, want 5", code)
	}
	for _, app := range []string{"quick", "failer", "slow"} {
		l := lineOf(out, "line-of-"+app)
		if l == "" {
			t.Errorf("output lacks the line of %s:\n%s", app, out)
			continue
		}
		prefix := strings.TrimSpace(l[:strings.Index(l, "line-of-"+app)])
		if !regexp.MustCompile(`\b` + app + `\b`).MatchString(prefix) {
			t.Errorf("line %q of app %s does not carry the app's name before the text", l, app)
		}
	}
	st := pe.status(uuid)
	if st["state"] != "exited" {
		t.Errorf("status state=%q, want exited", st["state"])
	}
	if st["app-quick"] != "0" || st["app-failer"] != "5" {
		t.Errorf("status app-quick=%q app-failer=%q, want 0 and 5 (all: %v)", st["app-quick"], st["app-failer"], st)
	}
	if st["app-slow"] == "9" {
		t.Errorf("app-slow ran to its end (9) although failer's failure should have stopped the pod")
	}
}

// TestPodRunExecAndArgs checks --exec and -- args --- per image.
func TestPodRunExecAndArgs(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.busyboxImage("echoer", []string{"/bin/echo", "image-default"}, nil)
	if out := pe.runOK(img); !hasLine(out, "image-default") {
		t.Errorf("the image's own exec did not run:\n%s", out)
	}
	if out := pe.runOK(img, "--", "appended", "arg", "---"); !hasLine(out, "image-default appended arg") {
		t.Errorf("-- appended arg --- did not append to the image's exec:\n%s", out)
	}
	out := pe.runOK(img, "--exec=/bin/sh", "--", "-c", `echo "exec-override $0 $1"`, "zero", "one two", "---")
	if !hasLine(out, "exec-override zero one two") {
		t.Errorf("--exec=/bin/sh -- -c ... did not run the override with its args:\n%s", out)
	}
}

// TestPodRunUserGroup resolves --user and --group (and the manifest's) in
// the image's own /etc/passwd and /etc/group.
func TestPodRunUserGroup(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.busyboxImage("ids", []string{"/bin/sh", "-c", `echo "ids $(id -u) $(id -g) $(id -G)"`}, func(im *schema.ImageManifest) {
		im.App.User = "user"
		im.App.Group = "extra"
	})
	if out := pe.runOK(img); lineOf(out, "ids 1000 2000") == "" {
		t.Errorf("manifest user=user group=extra: want uid 1000 gid 2000 (from the image's files):\n%s", out)
	}
	if out := pe.runOK(img, "--user=daemon2", "--group=staff"); lineOf(out, "ids 1234 1100") == "" {
		t.Errorf("--user=daemon2 --group=staff: want uid 1234 gid 1100:\n%s", out)
	}
	if out := pe.runOK(img, "--user=4321", "--group=4322", "--supplementary-gids=77,78"); lineOf(out, "ids 4321 4322") == "" || !strings.Contains(lineOf(out, "ids 4321"), "77") {
		t.Errorf("numeric --user/--group/--supplementary-gids: want uid 4321 gid 4322 with 77:\n%s", out)
	}
	if _, stderr, code := pe.run(img, "--user=nosuchuser"); code == 0 {
		t.Errorf("--user=nosuchuser (absent from the image's /etc/passwd) succeeded")
	} else if !strings.Contains(stderr, "nosuchuser") {
		t.Errorf("the failure for an unknown user does not name it:\n%s", stderr)
	}
}

// TestPodRunEnvironment checks the app's environment: the manifest's,
// --environment per app, --set-env for the pod, AC_APP_NAME and PATH.
func TestPodRunEnvironment(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.busyboxImage("envy", []string{"/bin/sh", "-c", `echo "env FROM_IMAGE=$FROM_IMAGE OVER=$OVER POD=$POD NAME=$AC_APP_NAME PATH=$PATH"`},
		func(im *schema.ImageManifest) {
			im.App.Environment = types.Environment{{Name: "FROM_IMAGE", Value: "img"}, {Name: "OVER", Value: "image"}}
		})
	out := pe.runOK("--set-env=POD=pod-wide", img, "--environment=OVER=flag")
	want := "env FROM_IMAGE=img OVER=flag POD=pod-wide NAME=envy PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	if !hasLine(out, want) {
		t.Errorf("app environment: want the line\n%s\nin:\n%s", want, out)
	}
	// rkt's environment does not leak into apps.
	pe.extraEnv = append(pe.extraEnv, "LEAKY=host")
	img2 := pe.busyboxImage("leak", []string{"/bin/sh", "-c", `echo "leak=${LEAKY:-none} gomaxprocs=${GOMAXPROCS:-none}"`}, nil)
	// The nspawn stage1 gives its supervisor GOMAXPROCS=1, which is not
	// the app's either.
	if out := pe.runOK(img2); !hasLine(out, "leak=none gomaxprocs=none") {
		t.Errorf("rkt's or the supervisor's environment reached the app without --inherit-env:\n%s", out)
	}
	if out := pe.runOK("--inherit-env", img2); !hasLine(out, "leak=host gomaxprocs=none") {
		t.Errorf("--inherit-env did not pass rkt's environment:\n%s", out)
	}
}

// TestPodRunWorkingDirAndReadonly checks --working-dir and --readonly-rootfs.
func TestPodRunWorkingDirAndReadonly(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.busyboxImage("wd", []string{"/bin/sh", "-c", `echo "cwd=$(pwd)"; if touch /written 2>/dev/null; then echo rootfs=rw; else echo rootfs=ro; fi`},
		func(im *schema.ImageManifest) { im.App.WorkingDirectory = "/home/user" })
	out := pe.runOK(img)
	if !hasLine(out, "cwd=/home/user") || !hasLine(out, "rootfs=rw") {
		t.Errorf("default: want cwd=/home/user (the manifest's) and a writable rootfs:\n%s", out)
	}
	out = pe.runOK(img, "--working-dir=/tmp", "--readonly-rootfs=true")
	if !hasLine(out, "cwd=/tmp") || !hasLine(out, "rootfs=ro") {
		t.Errorf("--working-dir=/tmp --readonly-rootfs=true: want cwd=/tmp and a read-only rootfs:\n%s", out)
	}
}

// TestPodRunVolumes checks host volumes (rw and ro) and empty volumes
// (mode, uid, gid), through --mount and through the manifest's mount points.
func TestPodRunVolumes(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	rw := filepath.Join(pe.base, "rw")
	ro := filepath.Join(pe.base, "ro")
	for _, d := range []string{rw, ro} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pe.write("ro/from-host", []byte("host-content\n"))
	img := pe.busyboxImage("vols", []string{"/bin/sh", "-c", `
echo app-wrote > /rw/out
echo "ro-read=$(cat /ro/from-host)"
if touch /ro/x 2>/dev/null; then echo ro=writable; else echo ro=readonly; fi
echo "empty=$(stat -c '%a %u %g' /empty)"
`}, func(im *schema.ImageManifest) {
		// rw comes from the manifest's mount points; the others from --mount.
		im.App.MountPoints = []types.MountPoint{{Name: "rw", Path: "/rw"}}
	})
	out := pe.runOK(
		"--volume=rw,kind=host,source="+rw,
		"--volume=ro,kind=host,source="+ro+",readOnly=true",
		"--volume=empty,kind=empty,mode=0750,uid=1000,gid=1100",
		img, "--mount=volume=ro,target=/ro", "--mount=volume=empty,target=/empty")
	if b, err := os.ReadFile(filepath.Join(rw, "out")); err != nil || string(b) != "app-wrote\n" {
		t.Errorf("host volume rw: the app's file reads %q, %v; want app-wrote", b, err)
	}
	if !hasLine(out, "ro-read=host-content") {
		t.Errorf("read-only host volume: the app did not read the host's file:\n%s", out)
	}
	if !hasLine(out, "ro=readonly") {
		t.Errorf("readOnly=true host volume is writable from the app:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(ro, "x")); err == nil {
		t.Errorf("the app created a file in the read-only volume's host directory")
	}
	if !hasLine(out, "empty=750 1000 1100") {
		t.Errorf("empty volume mode=0750 uid=1000 gid=1100: want 'empty=750 1000 1100':\n%s", out)
	}
}

// TestPodRunEventHandlers checks pre-start and post-stop: they run in the
// app's rootfs, before and after the app, in that order.
func TestPodRunEventHandlers(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	logDir := filepath.Join(pe.base, "events")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	img := pe.busyboxImage("events", []string{"/bin/sh", "-c", `echo main >> /log/order; test -e /pre-ran && echo saw-pre >> /log/order`},
		func(im *schema.ImageManifest) {
			im.App.EventHandlers = []types.EventHandler{
				{Name: "pre-start", Exec: types.Exec{"/bin/sh", "-c", "echo pre >> /log/order; touch /pre-ran"}},
				{Name: "post-stop", Exec: types.Exec{"/bin/sh", "-c", "echo post >> /log/order"}},
			}
			im.App.MountPoints = []types.MountPoint{{Name: "log", Path: "/log"}}
		})
	pe.runOK("--volume=log,kind=host,source="+logDir, img)
	b, err := os.ReadFile(filepath.Join(logDir, "order"))
	if err != nil {
		t.Fatalf("no event log: %v", err)
	}
	if string(b) != "pre\nmain\nsaw-pre\npost\n" {
		t.Errorf("events ran as %q, want pre, main (seeing pre's file in its rootfs), post", b)
	}
}

// TestPodPrepareRunPrepared prepares a pod, then runs it by UUID.
func TestPodPrepareRunPrepared(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.shImage("prep", "echo prepared-ran; exit 4")
	uuid := pe.prepare(img)
	if st := pe.status(uuid); st["state"] != "prepared" {
		t.Errorf("state after prepare = %q, want prepared", st["state"])
	}
	out, stderr, code := rkt(t, pe.env, "run-prepared", uuid)
	if code != 4 {
		t.Errorf("run-prepared: exit %d, want the app's 4\n%s", code, stderr)
	}
	if !hasLine(out, "prepared-ran") {
		t.Errorf("run-prepared: the app's output is missing:\n%s", out)
	}
	if st := pe.status(uuid); st["state"] != "exited" || st["app-prep"] != "4" {
		t.Errorf("status after run-prepared: %v, want state=exited app-prep=4", st)
	}
}
