package mountinfo

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`:    "/a b",
		`/a\011\012`: "/a\t\n",
		`/a\134b`:    `/a\b`,
		`/end\040`:   "/end ",
		`/plain`:     "/plain",
		`/short\04`:  `/short\04`,
		`/not\089`:   `/not\089`,
	} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseAndUnder(t *testing.T) {
	const table = `21 26 0:20 / /proc rw - proc proc rw
30 26 0:30 / /pods/p rw - tmpfs tmpfs rw
31 30 0:31 / /pods/p/a\040b rw - tmpfs tmpfs rw
32 30 0:32 / /pods/p/x/y rw - tmpfs tmpfs rw
33 31 0:33 / /pods/p/a\040b rw - tmpfs tmpfs rw
34 26 0:34 / /pods/pq rw - tmpfs tmpfs rw
short line
`
	all, err := parsePoints(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/proc", "/pods/p", "/pods/p/a b", "/pods/p/x/y", "/pods/p/a b", "/pods/pq"}
	if !slices.Equal(all, want) {
		t.Fatalf("points = %q, want %q", all, want)
	}
	// Deepest first; of the two mounts stacked on "a b", the later first;
	// /pods/pq is not under /pods/p.
	got := under(all, "/pods/p")
	if wantU := []string{"/pods/p/x/y", "/pods/p/a b", "/pods/p/a b", "/pods/p"}; !slices.Equal(got, wantU) {
		t.Errorf("under = %q, want %q", got, wantU)
	}
	if n := len(under(all, "/")); n != len(all) {
		t.Errorf("under / = %d mounts, want all %d", n, len(all))
	}
}

// TestUnderReal mounts a tmpfs with a space in its path and finds it.
func TestUnderReal(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "with space")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", target, "tmpfs", 0, ""); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	defer unix.Unmount(target, unix.MNT_DETACH)
	got, err := Under(dir)
	if err != nil || !slices.Equal(got, []string{target}) {
		t.Errorf("Under(%s) = %q, %v; want [%s]", dir, got, err, target)
	}
}
