package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/store/storetest"
)

// TestNomadPrepareShape: Nomad's rkt driver prepares a pod with --volume and
// --mount before the image (`rkt prepare --volume=alloc,kind=host,source=DIR
// --mount=volume=alloc,target=/alloc IMAGE --exec=... -- ARGS`), then runs
// it with run-prepared, which takes the network flags. rkt 1.30 mounted such a --mount into every app.
func TestNomadPrepareShape(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	alloc := filepath.Join(pe.base, "alloc")
	if err := os.MkdirAll(alloc, 0o755); err != nil {
		t.Fatal(err)
	}
	img := pe.shImage("task", "echo from-the-task > /alloc/out")
	uuid := pe.prepare(
		"--volume=alloc,kind=host,source="+alloc,
		"--mount=volume=alloc,target=/alloc",
		img)
	if out, stderr, code := rkt(t, pe.env, "run-prepared", "--net=none", uuid); code != 0 {
		t.Fatalf("run-prepared: exit %d\n%s\n%s", code, out, stderr)
	}
	b, err := os.ReadFile(filepath.Join(alloc, "out"))
	if err != nil || strings.TrimSpace(string(b)) != "from-the-task" {
		t.Errorf("the app wrote %q (%v) into the alloc volume, want from-the-task", b, err)
	}
}

// TestNomadDetectsVersion: Nomad's rkt driver reads `rkt version` with these
// patterns and requires rkt >= 1.27.0 and an appc version.
func TestNomadDetectsVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.ok("version")
	rktRe := regexp.MustCompile(`rkt [vV]ersion[:]? (\d[.\d]+)`)
	appcRe := regexp.MustCompile(`appc [vV]ersion[:]? (\d[.\d]+)`)
	m := rktRe.FindStringSubmatch(out)
	if m == nil || appcRe.FindStringSubmatch(out) == nil {
		t.Fatalf("rkt version printed %q: Nomad finds no rkt or appc version in it", out)
	}
	var v [3]int
	if n, _ := fmt.Sscanf(strings.TrimSuffix(m[1], "."), "%d.%d.%d", &v[0], &v[1], &v[2]); n != 3 {
		t.Fatalf("rkt version %q is not MAJOR.MINOR.PATCH", m[1])
	}
	if v[0] != 1 || v[1] < 30 {
		t.Errorf("rkt version %s: want rkt's line, at least 1.30.0 (Nomad needs >= 1.27.0)", m[1])
	}
}

// TestRunRefusesImageWithoutOSArch: rkt 1.30 refused to run an app image
// without os or arch labels, or for an os it does not run, with these
// messages and exit 254.
func TestRunRefusesImageWithoutOSArch(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	drop := func(label string) func(*schema.ImageManifest) {
		return func(im *schema.ImageManifest) {
			var keep types.Labels
			for _, l := range im.Labels {
				if string(l.Name) != label {
					keep = append(keep, l)
				}
			}
			im.Labels = keep
		}
	}
	for _, c := range []struct {
		app  string
		mod  func(*schema.ImageManifest)
		want string
	}{
		{"noos", drop("os"), "missing os label in the image manifest"},
		{"noarch", drop("arch"), "missing arch label in the image manifest"},
		{"freebsd", func(im *schema.ImageManifest) {
			drop("os")(im)
			im.Labels = append(im.Labels, types.Label{Name: "os", Value: "freebsd"})
		}, `bad os "freebsd"`},
	} {
		img := pe.busyboxImage(c.app, []string{"/bin/true"}, c.mod)
		_, stderr, code := pe.run("--net=none", img)
		if code != 254 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want 254 and %q", c.app, code, stderr, c.want)
		}
	}
}

// TestPodHasMtab: rkt 1.30 gave every app whose image has an /etc an
// /etc/mtab -> ../proc/self/mounts, which mount(8) and df read.
func TestPodHasMtab(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.shImage("mtab", `echo "link: $(readlink /etc/mtab)"; grep -q ' / ' /etc/mtab && echo "root listed"`)
	out := pe.runOK("--net=none", img)
	if !hasLine(out, "link: ../proc/self/mounts") || !hasLine(out, "root listed") {
		t.Errorf("the app's /etc/mtab: %q, want a link to ../proc/self/mounts listing /", out)
	}
}

// TestEnterGivesCallersTerm: rkt 1.30's enter gave the entered command the
// caller's TERM (vt100 when the caller had none), not the app's: it is
// usually a shell on the caller's terminal.
func TestEnterGivesCallersTerm(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.busyboxImage("termapp", []string{"/bin/sh", "-c", sleeper}, nil)
	uuid, _ := pe.startPod("--net=none", img, "--environment=TERM=app-term")
	pe.extraEnv = []string{"TERM=caller-term"}
	out := pe.ok("enter", uuid, "/bin/sh", "-c", "echo term=$TERM")
	pe.extraEnv = nil
	if strings.TrimSpace(out) != "term=caller-term" {
		t.Errorf("enter with TERM=caller-term: the command saw %q, want term=caller-term", strings.TrimSpace(out))
	}
	out = pe.ok("enter", uuid, "/bin/sh", "-c", "echo term=$TERM")
	if strings.TrimSpace(out) != "term=vt100" {
		t.Errorf("enter without TERM: the command saw %q, want term=vt100", strings.TrimSpace(out))
	}
	pe.ok("stop", uuid)
}

// TestPodLookupMessages: rkt 1.30's words for a UUID that matches no pod and
// for an empty one, which scripts match, with exit 254.
func TestPodLookupMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const missing = "0f746094-3438-42bc-ab37-3cf85f132e60"
	uuidFile := e.write("uuid-file", []byte(missing))
	for _, args := range [][]string{
		{"rm", missing},
		{"rm", "--uuid-file=" + uuidFile},
		{"status", missing},
		{"cat-manifest", "1234567890abcdef"},
	} {
		_, stderr := e.fails(254, args...)
		want := fmt.Sprintf("no matches found for %q", args[len(args)-1])
		if strings.HasPrefix(args[len(args)-1], "--uuid-file") {
			want = fmt.Sprintf("no matches found for %q", missing)
		}
		assertMentions(t, "rkt "+strings.Join(args, " "), stderr, want)
	}
	_, stderr := e.fails(254, "rm", "")
	assertMentions(t, `rkt rm ""`, stderr, "UUID cannot be empty")
}

// TestImageIDMessages: rkt 1.30's words for an image ID that names no image,
// one too short to look up, and a prefix two images share.
func TestImageIDMessages(t *testing.T) {
	t.Parallel()
	e, _, sign := signedSetup(t)
	// Two images whose IDs share their first two hex digits.
	seen := map[string][]byte{}
	var a, b string
	for i := 0; a == ""; i++ {
		aci := storetest.BuildACI(t, e.name("app"), map[string]string{"version": fmt.Sprint(i)}, fileOf("n", fmt.Sprint(i)))
		head := storetest.ImageID(aci)[:len("sha512-")+2]
		if prev, ok := seen[head]; ok {
			a = e.writeSigned("a.aci", prev, sign(prev))
			b = e.writeSigned("b.aci", aci, sign(aci))
		}
		seen[head] = aci
	}
	idA := e.fetchID("--full", a)
	e.fetchID(b)
	for _, c := range []struct{ id, want string }{
		{"sha512-12341234", "no image IDs found"},
		{idA[:len("sha512-")+1], "image ID too short"},
		{idA[:len("sha512-")+2], "ambiguous image ID"},
	} {
		_, stderr := e.fails(254, "image", "cat-manifest", c.id)
		assertMentions(t, "image cat-manifest "+c.id, stderr, c.want)
	}
	if out := e.ok("image", "cat-manifest", idA[:len("sha512-")+12]); !strings.Contains(out, "ImageManifest") {
		t.Errorf("image cat-manifest of a 12-digit ID printed %q", out)
	}
}

// TestPodFallbackHosts: an app without /etc/hosts gets rkt 1.30's default
// file, byte for byte, with the pod's hostname on its 127.0.0.1 line.
func TestPodFallbackHosts(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.shImage("hosts", "cat /etc/hosts")
	out := pe.runOK("--net=none", "--hostname=podhost", img)
	want := "# This is the default rkt /etc/hosts\n" +
		"127.0.0.1 localhost localhost.domain localhost4 localhost4.localdomain4 podhost\n" +
		"\n" +
		"::1 ip6-localhost ip6-loopback localhost6 localhost6.localdomain6\n" +
		"fe00::0 ip6-localnet\nff00::0 ip6-mcastprefix\nff02::1 ip6-allnodes\nff02::2 ip6-allrouters\nff02::3 ip6-allhosts\n"
	if got := strings.ReplaceAll(out, "\r", ""); !strings.Contains(got, want) {
		t.Errorf("the app's /etc/hosts:\n%q\nwant rkt 1.30's:\n%q", got, want)
	}
}

// TestRunRootWithoutPasswd: "root" is uid and gid 0 even in an image with
// no /etc/passwd or /etc/group, as in rkt 1.30.
func TestRunRootWithoutPasswd(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	var files []storetest.File
	for _, f := range busyboxFiles(t) {
		if f.Name != "etc/passwd" && f.Name != "etc/group" {
			files = append(files, f)
		}
	}
	aci := storetest.BuildACIWithManifest(t, appManifest(t, pe.name("nopasswd"), []string{"/bin/sh", "-c", "echo ids=$(id -u):$(id -g)"}, nil), files...)
	img := pe.writeSigned("nopasswd.aci", aci, pe.key.Sign(t, aci))
	out := pe.runOK("--net=none", img, "--user=root", "--group=root")
	if !hasLine(out, "ids=0:0") {
		t.Errorf("--user=root --group=root without /etc/passwd: %q, want ids=0:0", out)
	}
}

// TestFetchDiagnosticLines: with --debug, rkt 1.30 told where an image came
// from in these words, which its users' scripts and its own tests match.
func TestFetchDiagnosticLines(t *testing.T) {
	t.Parallel()
	e, im, sign := signedSetup(t)
	p := e.writeSigned("app.aci", im.aci, sign(im.aci))
	_, stderr, code := rkt(t, e, "--debug", "fetch", p)
	if code != 0 {
		t.Fatalf("fetch: exit %d\n%s", code, stderr)
	}
	assertMentions(t, "fetch --debug of a file", stderr, "image: using image from file "+p+"\n")

	e.site.serveFile("remote.aci", im.aci)
	e.site.serveFile("remote.aci.asc", sign(im.aci))
	u := e.site.url("remote.aci")
	_, stderr, code = rkt(t, e, "--debug", "fetch", u)
	if code != 0 {
		t.Fatalf("fetch: exit %d\n%s", code, stderr)
	}
	assertMentions(t, "fetch --debug of a URL", stderr, "image: fetching image from "+u+"\n", fmt.Sprintf("image: remote fetching from URL %q\n", u))
	_, stderr, _ = rkt(t, e, "--debug", "fetch", "--pull-policy=new", u)
	assertMentions(t, "fetch --debug of a stored URL", stderr, "image: using image from local store for url "+u+"\n")
	// Without --debug, none of them.
	_, stderr, _ = rkt(t, e, "fetch", p)
	if strings.Contains(stderr, "using image from") {
		t.Errorf("fetch without --debug printed rkt's diagnostic lines:\n%s", stderr)
	}
}
