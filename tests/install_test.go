package tests

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The install tests run the Makefile the way a user or a distribution
// does, in a copy of the source tree (so that this tree's build/ and the
// binary under test are left alone). The copy's builds reuse the Go build
// cache, so they mostly link.

var installTree struct {
	once sync.Once
	dir  string
	err  error
	// mu serializes make runs in the copy: they share its build/.
	mu sync.Mutex
}

// sourceCopy copies the files git knows of (tracked, and untracked but not
// ignored) into a directory of the suite, once.
func sourceCopy(t *testing.T) string {
	t.Helper()
	installTree.once.Do(func() {
		installTree.dir, installTree.err = copySource(filepath.Join(suiteDir, "src"))
	})
	if installTree.err != nil {
		t.Fatalf("copying the source tree: %v", installTree.err)
	}
	return installTree.dir
}

func copySource(dst string) (string, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	files, err := sourceFiles(root)
	if err != nil {
		return "", err
	}
	for _, rel := range files {
		src := filepath.Join(root, rel)
		st, err := os.Lstat(src)
		if err != nil {
			if os.IsNotExist(err) { // deleted in the work tree
				continue
			}
			return "", err
		}
		if !st.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return "", err
		}
		p := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, data, st.Mode().Perm()); err != nil {
			return "", err
		}
	}
	return dst, nil
}

// sourceFiles lists the tree's files as git sees them, or, outside a git
// checkout, every file but build/ and .git.
func sourceFiles(root string) ([]string, error) {
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err == nil {
		return strings.Split(strings.TrimRight(string(out), "\x00"), "\x00"), nil
	}
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() && (rel == "build" || rel == ".git") {
			return fs.SkipDir
		}
		if !d.IsDir() {
			files = append(files, rel)
		}
		return nil
	})
	return files, err
}

// runMake runs make with args in the copied tree and fails the test if it
// fails.
func runMake(t *testing.T, dir string, args ...string) string {
	t.Helper()
	installTree.mu.Lock()
	defer installTree.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", append([]string{"-C", dir}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("make %s (%v)", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// installedFiles lists the regular files under root, relative to it.
func installedFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == root {
				return fs.SkipAll
			}
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listing %s: %v", root, err)
	}
	slices.Sort(files)
	return files
}

// wantLayout is what make install puts under a prefix (relative to /),
// given the man pages the build generated.
func wantLayout(t *testing.T, tree, prefix string) []string {
	t.Helper()
	p := strings.Trim(prefix, "/")
	if p == "" {
		p = "."
	}
	want := []string{
		p + "/bin/rkt",
		p + "/lib/rkt/stage1-images/stage1-nspawn.aci",
		p + "/lib/rkt/stage1-images/stage1-fly.aci",
		p + "/lib/tmpfiles.d/rkt.conf",
		p + "/lib/sysusers.d/rkt.conf",
		p + "/lib/systemd/system/rkt-gc.service",
		p + "/lib/systemd/system/rkt-gc.timer",
		p + "/lib/systemd/system/rkt-api.service",
		p + "/lib/systemd/system/rkt-api-tcp.socket",
		p + "/lib/systemd/system/rkt-metadata.service",
		p + "/lib/systemd/system/rkt-metadata.socket",
		p + "/libexec/rkt/setup-data-dir.sh",
		p + "/libexec/rkt/rkt-api-service",
		p + "/share/bash-completion/completions/rkt",
		p + "/share/zsh/vendor-completions/_rkt",
		p + "/share/fish/vendor_completions.d/rkt.fish",
		p + "/share/doc/rkt/examples/hello.service",
		p + "/share/doc/rkt/examples/rkt-fetch@.service",
		p + "/share/doc/rkt/examples/rkt-pod@.service",
	}
	man, err := filepath.Glob(filepath.Join(tree, "build/man/*.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range man {
		want = append(want, p+"/share/man/man1/"+filepath.Base(m))
	}
	for i := range want {
		want[i] = filepath.Clean(want[i])
	}
	for _, m := range []string{"rkt.1", "rkt-run.1", "rkt-image-list.1", "rkt-trust.1"} {
		if !slices.Contains(want, filepath.Join(p, "share/man/man1", m)) {
			t.Errorf("make generated no man page %s (build/man has %v)", m, man)
		}
	}
	slices.Sort(want)
	return want
}

// TestInstallDestdirPrefix installs as a distribution does (DESTDIR
// staging, PREFIX=/usr on the make command line after a plain ./configure),
// checks the layout and that nothing lands outside DESTDIR, then installs
// under a PREFIX of its own and runs a signed pod with the installed rkt,
// which must find the installed stage1 by itself; make uninstall then
// leaves no file behind.
func TestInstallDestdirPrefix(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	tree := sourceCopy(t)
	base := t.TempDir()

	t.Run("destdir", func(t *testing.T) { installDestdir(t, tree, filepath.Join(base, "dest")) })
	t.Run("prefix", func(t *testing.T) { installPrefixRun(t, tree, filepath.Join(base, "prefix")) })
}

// installDestdir: DESTDIR staging with PREFIX on the command line.
func installDestdir(t *testing.T, tree, dest string) {
	runMake(t, tree, "install", "DESTDIR="+dest, "PREFIX=/usr")
	want := wantLayout(t, tree, "/usr")
	if got := installedFiles(t, dest); !slices.Equal(got, want) {
		t.Errorf("make install DESTDIR=... PREFIX=/usr installed:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	// The installed services run the installed rkt.
	for unit, exec := range map[string]string{"rkt-gc.service": "\nExecStart=/usr/bin/rkt gc ", "rkt-api.service": "\nExecStart=/usr/bin/rkt api-service\n", "rkt-metadata.service": "\nExecStart=/usr/bin/rkt metadata-service\n"} {
		if b, err := os.ReadFile(filepath.Join(dest, "usr/lib/systemd/system", unit)); err != nil || !strings.Contains(string(b), exec) {
			t.Errorf("the installed %s does not run /usr/bin/rkt (%v):\n%s", unit, err, b)
		}
	}
	// The staged binary has /usr's images directory compiled in: with no
	// stage1 beside it, it names that directory when it finds none.
	if _, err := os.Stat("/usr/lib/rkt/stage1-images/stage1-nspawn.aci"); os.IsNotExist(err) {
		pe := newBarePodEnv(t)
		pe.binary = filepath.Join(dest, "usr/bin/rkt")
		img := pe.shImage("staged", "echo staged")
		_, stderr, code := pe.run("--net=none", img)
		pe.binary = ""
		if code != 254 || !strings.Contains(stderr, "stage1-nspawn.aci is missing") || !strings.Contains(stderr, "/usr/lib/rkt/stage1-images") {
			t.Errorf("the staged rkt without its stage1: exit %d, stderr %q; want 254 and a message naming /usr/lib/rkt/stage1-images", code, stderr)
		}
	}
	runMake(t, tree, "uninstall", "DESTDIR="+dest, "PREFIX=/usr")
	if left := installedFiles(t, dest); len(left) > 0 {
		t.Errorf("make uninstall DESTDIR=... PREFIX=/usr left: %v", left)
	}

	// Nothing is written outside DESTDIR: every absolute path the install
	// commands name is under it.
	for _, l := range strings.Split(runMake(t, tree, "-n", "install", "DESTDIR="+dest, "PREFIX=/usr"), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || !slices.Contains([]string{"install", "for", "sed", "chmod"}, f[0]) {
			continue
		}
		for _, tok := range f {
			tok = strings.TrimPrefix(strings.Trim(tok, `"';`), ">")
			if strings.HasPrefix(tok, "/") && !strings.HasPrefix(tok, dest+"/") {
				t.Errorf("make install DESTDIR=%s PREFIX=/usr writes outside DESTDIR: %s\n%s", dest, tok, l)
			}
		}
	}
}

// installPrefixRun: a PREFIX of our own, no DESTDIR: the installed rkt
// runs a pod with the installed stage1 only.
func installPrefixRun(t *testing.T, tree, prefix string) {
	runMake(t, tree, "install", "PREFIX="+prefix)
	if got, want := installedFiles(t, prefix), wantLayout(t, tree, ""); !slices.Equal(got, want) {
		t.Errorf("make install PREFIX=%s installed:\n  %s\nwant:\n  %s", prefix, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	installed := filepath.Join(prefix, "bin/rkt")
	pe := newBarePodEnv(t)
	pe.binary = installed
	img := pe.shImage("installed", "echo hello-from-installed-rkt")
	out, stderr, code := pe.run("--debug", "--net=none", img)
	if code != 0 || !hasLine(out, "hello-from-installed-rkt") {
		t.Fatalf("installed rkt run: exit %d, want 0 and the app's line\nstdout: %s\nstderr: %s", code, out, stderr)
	}
	if imagesDir := filepath.Join(prefix, "lib/rkt/stage1-images"); !strings.Contains(stderr, filepath.Join(imagesDir, "stage1-nspawn.aci")) {
		t.Errorf("the installed rkt did not say it took the stage1 from %s:\n%s", imagesDir, stderr)
	}
	pe.ok("gc", "--grace-period=0s")
	pe.binary = "" // the teardown's gc runs the binary under test
	runMake(t, tree, "uninstall", "PREFIX="+prefix)
	if left := installedFiles(t, prefix); len(left) > 0 {
		t.Errorf("make uninstall PREFIX=%s left: %v", prefix, left)
	}
}

// TestInstallDeb builds the Debian package and checks that it holds the
// installed layout under /usr, names the packages pods need, and carries
// the maintainer scripts that create the groups and the data directory.
func TestInstallDeb(t *testing.T) {
	for _, tool := range []string{"make", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	tree := sourceCopy(t)
	// zstd: the same package as the default xz, built in a second, not a minute.
	runMake(t, tree, "deb", "DEB_COMPRESS=zstd")
	debs, err := filepath.Glob(filepath.Join(tree, "build/rkt_*.deb"))
	if err != nil || len(debs) != 1 {
		t.Fatalf("make deb wrote %v (%v), want one build/rkt_*.deb", debs, err)
	}
	deb := debs[0]

	out, err := exec.Command("dpkg-deb", "--contents", deb).Output()
	if err != nil {
		t.Fatalf("dpkg-deb --contents %s: %v", deb, err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || strings.HasPrefix(f[0], "d") {
			continue
		}
		if f[1] != "root/root" {
			t.Errorf("%s is owned by %s, want root/root", f[5], f[1])
		}
		got = append(got, strings.TrimPrefix(f[5], "./"))
	}
	slices.Sort(got)
	if want := wantLayout(t, tree, "/usr"); !slices.Equal(got, want) {
		t.Errorf("the .deb holds:\n  %s\nwant make install's layout:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	field := func(name string) string {
		t.Helper()
		b, err := exec.Command("dpkg-deb", "--field", deb, name).Output()
		if err != nil {
			t.Fatalf("dpkg-deb --field %s: %v", name, err)
		}
		return strings.TrimSpace(string(b))
	}
	if got := field("Package"); got != "rkt" {
		t.Errorf("Package: %q, want rkt", got)
	}
	depends := field("Depends")
	for _, dep := range []string{"systemd-container", "iptables"} {
		if !slices.Contains(strings.Split(strings.ReplaceAll(depends, " ", ""), ","), dep) {
			t.Errorf("Depends: %q lacks %s", depends, dep)
		}
	}

	ctrl := t.TempDir()
	if b, err := exec.Command("dpkg-deb", "--control", deb, ctrl).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --control: %v\n%s", err, b)
	}
	postinst, err := os.ReadFile(filepath.Join(ctrl, "postinst"))
	if err != nil {
		t.Fatalf("the .deb has no postinst: %v", err)
	}
	for _, w := range []string{"/usr/lib/sysusers.d/rkt.conf", "/usr/lib/tmpfiles.d/rkt.conf", "/usr/libexec/rkt/setup-data-dir.sh"} {
		if !bytes.Contains(postinst, []byte(w)) {
			t.Errorf("postinst does not use %s:\n%s", w, postinst)
		}
	}
	if st, err := os.Stat(filepath.Join(ctrl, "postinst")); err != nil || st.Mode().Perm()&0o111 == 0 {
		t.Errorf("postinst is not executable: %v", err)
	}

	// The packaged rkt, extracted, finds its stage1 in /usr/lib/rkt/stage1-images.
	x := t.TempDir()
	if b, err := exec.Command("dpkg-deb", "--extract", deb, x).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --extract: %v\n%s", err, b)
	}
	b, err := os.ReadFile(filepath.Join(x, "usr/bin/rkt"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("/usr/lib/rkt/stage1-images")) {
		t.Errorf("the packaged rkt does not have /usr/lib/rkt/stage1-images compiled in")
	}
}
