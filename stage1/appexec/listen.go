package appexec

import (
	"os"
	"strconv"
	"strings"
)

// ListenFDsStart is SD_LISTEN_FDS_START: the first socket a socket unit
// hands a process.
const ListenFDsStart = 3

// ListenFDs is how many sockets sd_listen_fds(3) says this process was
// given: LISTEN_FDS, when LISTEN_PID names this process; 0 otherwise.
func ListenFDs() int {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return 0
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// ListenFDNames is LISTEN_FDNAMES for n sockets handed to app, as rkt
// 1.30's pod gave them: its systemd passed them from the socket unit
// <app>.socket and names each socket after its unit by default
// (FileDescriptorName=, sd_listen_fds_with_names(3)).
func ListenFDNames(app string, n int) string {
	return strings.TrimSuffix(strings.Repeat(app+".socket:", n), ":")
}
