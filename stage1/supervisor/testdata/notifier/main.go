// Command notifier is a test app: once /go exists it sends READY=1 to
// $NOTIFY_SOCKET, then waits to be stopped. It prints "notified" first:
// the test stops the pod as soon as READY=1 arrives, and the line must be
// in the output pipe by then.
package main

import (
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	for {
		if _, err := os.Stat("/go"); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	addr := &net.UnixAddr{Name: os.Getenv("NOTIFY_SOCKET"), Net: "unixgram"}
	conn, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(3)
	}
	os.Stdout.WriteString("notified\n")
	if _, err := conn.Write([]byte("STATUS=warming up\nREADY=1\n")); err != nil {
		os.Exit(4)
	}
	// Wait for the stop. A bare select{} would not do: with no other
	// goroutine the runtime calls it a deadlock and exits 2.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	<-stop
}
