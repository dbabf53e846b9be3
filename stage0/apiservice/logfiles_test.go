package apiservice

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/rkt/rkt/api/v1alpha"
	"github.com/rkt/rkt/common/podlayout"
)

func logText(t time.Time, text string) string {
	return t.UTC().Format(podlayout.LogTimeLayout) + " " + text + "\n"
}

func texts(lines []logLine) []string {
	var s []string
	for _, l := range lines {
		s = append(s, l.text)
	}
	return s
}

// A follower reads the older part and the current file, then what is
// appended, across the supervisor's rename to <app>.1, and holds back a
// line not yet whole.
func TestLogFollower(t *testing.T) {
	p := filepath.Join(t.TempDir(), "app")
	t0 := time.Unix(1000, 0)
	write := func(path, s string) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	write(p+".1", logText(t0, "one"))
	write(p, logText(t0, "two with  spaces"))
	f, lines, err := openLogFollower(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	if got, want := texts(lines), []string{"one", "two with  spaces"}; !reflect.DeepEqual(got, want) {
		t.Errorf("first read %q, want %q", got, want)
	}
	poll := func(want ...string) {
		t.Helper()
		l, err := f.poll()
		if err != nil {
			t.Fatal(err)
		}
		if got := texts(l); !reflect.DeepEqual(got, want) {
			t.Errorf("poll %q, want %q", got, want)
		}
	}
	poll()
	write(p, logText(t0, "three"))
	half := logText(t0, "four")
	write(p, half[:10])
	poll("three")
	write(p, half[10:])
	// Rotation: the rest of the old file, then the new one.
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	poll("four")
	write(p, logText(t0, "five"))
	poll("five")
}

// Lines of several apps come in time order; since and until include
// their whole seconds.
func TestLogWindow(t *testing.T) {
	mk := func() []logLine {
		var lines []logLine
		for _, sec := range []int64{30, 10, 20} {
			lines = append(lines, logLine{t: time.Unix(sec, 5), text: fmt.Sprint(sec)})
		}
		return lines
	}
	for _, c := range []struct {
		since, until int64
		want         []string
	}{
		{0, 0, []string{"10", "20", "30"}},
		{20, 0, []string{"20", "30"}},
		{0, 20, []string{"10", "20"}},
		{11, 29, []string{"20"}},
	} {
		got := texts(inWindow(mk(), &v1alpha.GetLogsRequest{SinceTime: c.since, UntilTime: c.until}))
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("since %d until %d: %q, want %q", c.since, c.until, got, c.want)
		}
	}
}
