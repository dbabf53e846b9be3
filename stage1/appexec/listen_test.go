package appexec

import (
	"os"
	"strconv"
	"testing"
)

func TestListenFDs(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	for _, c := range []struct {
		pid, fds string
		want     int
	}{
		{self, "2", 2},
		{"1", "2", 0}, // another process's sockets
		{self, "", 0},
		{self, "-1", 0},
		{"", "2", 0},
	} {
		t.Setenv("LISTEN_PID", c.pid)
		t.Setenv("LISTEN_FDS", c.fds)
		if got := ListenFDs(); got != c.want {
			t.Errorf("LISTEN_PID=%q LISTEN_FDS=%q: ListenFDs() = %d, want %d", c.pid, c.fds, got, c.want)
		}
	}
}

func TestListenFDNames(t *testing.T) {
	if got := ListenFDNames("web", 2); got != "web.socket:web.socket" {
		t.Errorf("ListenFDNames(web, 2) = %q", got)
	}
	if got := ListenFDNames("web", 1); got != "web.socket" {
		t.Errorf("ListenFDNames(web, 1) = %q", got)
	}
}
