package tests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestImageOverwriteGuards: `image extract/render --overwrite` must not
// delete through a mount point under the output directory, nor remove rkt's
// own directories or a system directory; it refuses before removing
// anything.
func TestImageOverwriteGuards(t *testing.T) {
	t.Parallel()
	e, im, sign := signedSetup(t)
	e.fetchID(e.writeSigned("app.aci", im.aci, sign(im.aci)))

	// A bind mount deep under the output directory.
	src := filepath.Join(e.base, "precious")
	out := filepath.Join(e.base, "out")
	mnt := filepath.Join(out, "sub", "mnt")
	for _, d := range []string{src, mnt} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	keep := filepath.Join(src, "keep")
	if err := os.WriteFile(keep, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	own := filepath.Join(out, "own-file")
	if err := os.WriteFile(own, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(src, mnt, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	link := filepath.Join(e.base, "link-to-out")
	if err := os.Symlink(out, link); err != nil {
		t.Fatal(err)
	}

	for _, cmd := range []string{"extract", "render"} {
		for _, dir := range []string{out, link + "/sub"} {
			_, stderr := e.fails(254, "image", cmd, "--overwrite", im.id, dir)
			assertMentions(t, "image "+cmd+" --overwrite over a mount", stderr, "mount point", "refusing")
		}
	}
	if b, err := os.ReadFile(keep); err != nil || string(b) != "mine\n" {
		t.Errorf("the bind-mounted file: %q, %v; want it untouched", b, err)
	}
	if _, err := os.Stat(own); err != nil {
		t.Errorf("the output directory was partly removed before the refusal: %v", err)
	}

	// rkt's own directories and system directories.
	dataLink := filepath.Join(e.base, "link-to-data")
	if err := os.Symlink(e.dataDir, dataLink); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{e.dataDir, e.base, dataLink, e.localConfig, e.systemConfig} {
		_, stderr := e.fails(254, "image", "extract", "--rootfs-only", "--overwrite", im.id, dir)
		assertMentions(t, "image extract --overwrite "+dir, stderr, "refusing", "protected")
	}
	// System directories: asked of an rkt that runs in a mount namespace
	// of its own where everything but the test's directory is read-only,
	// so that a broken guard fails to remove instead of wiping the host.
	for _, dir := range []string{"/", "/usr", "/etc"} {
		_, stderr, code := rktReadOnlyRoot(t, e, "image", "extract", "--rootfs-only", "--overwrite", im.id, dir)
		if code != 254 {
			t.Errorf("image extract --overwrite %s: exit %d, want 254\n%s", dir, code, stderr)
		}
		assertMentions(t, "image extract --overwrite "+dir, stderr, "refusing", "protected")
	}
	e.assertStore(im.id)
	for _, d := range []string{e.localConfig, e.systemConfig, "/usr/bin", "/etc"} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}

	// An ordinary directory is still replaced.
	plain := filepath.Join(e.base, "plain")
	if err := os.MkdirAll(filepath.Join(plain, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.ok("image", "extract", "--overwrite", im.id, plain)
	if _, err := os.Stat(filepath.Join(plain, "old")); err == nil {
		t.Error("extract --overwrite left the old content of a plain directory")
	}
}

// rktReadOnlyRoot runs rkt like the rkt helper, but in a private mount
// namespace in which every mount is read-only except the test's own
// directory (bound onto itself first), for commands that are asked to
// remove system directories and must refuse.
func rktReadOnlyRoot(t *testing.T, e *env, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := e.command(ctx, args...)
	// Bind the test's directory onto itself, then remount every other
	// mount read-only, deepest last so that none is skipped.
	script := `set -e
mount --make-rprivate /
mount --bind "$RKT_TEST_BASE" "$RKT_TEST_BASE"
awk '{ print $5 }' /proc/self/mountinfo | while read -r m; do
	m=$(printf '%b' "$m")
	case "$m" in "$RKT_TEST_BASE"|"$RKT_TEST_BASE"/*) continue ;; esac
	mount -o remount,bind,ro "$m" 2>/dev/null || true
done
touch /.rkt-ro-probe 2>/dev/null && { echo "the root is still writable" >&2; exit 99; }
exec "$@"`
	cmd.Args = append([]string{"unshare", "--mount", "--", "sh", "-c", script, "sh", cmd.Path}, cmd.Args[1:]...)
	path, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatalf("unshare (util-linux): %v", err)
	}
	cmd.Path = path
	cmd.Env = append(cmd.Env, "RKT_TEST_BASE="+e.base)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	exit = exitCode(t, err)
	t.Logf("(read-only root) rkt %s\n-> exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), exit, out.String(), errb.String())
	if exit == 99 {
		t.Fatalf("could not make the root read-only for the test: %s", errb.String())
	}
	return out.String(), errb.String(), exit
}
