package systemd

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// appPath is where every image of the suite has this binary.
const appPath = "/app"

// appMain is the test binary running as an app in a pod:
//
//	/app sleep      print "app: running", wait for SIGTERM
//	/app hello MSG  print MSG and exit 0
//	/app notify     print "app: waiting for /go", wait for /go to exist,
//	                send READY=1 to $NOTIFY_SOCKET, wait for SIGTERM
//	/app greet MSG  answer every connection to the socket-activated fd 3
//	                with MSG, until SIGTERM
//	/app touch F    create F (run with rkt enter)
//	/app talk       print "app: line 1" to "app: line 3", wait for /go,
//	                print "app: late line", wait for SIGTERM
//	/app mds        print "app: mds uuid UUID", the pod's UUID as the
//	                metadata service at $AC_METADATA_URL gives it
//
// On SIGTERM the waiting modes print "app: terminated" and exit 0.
func appMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "app: no mode")
		return 2
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	terminated := func() int {
		<-term
		fmt.Println("app: terminated")
		return 0
	}
	switch args[0] {
	case "hello":
		fmt.Println(args[1])
		return 0
	case "touch":
		if err := os.WriteFile(args[1], nil, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "app:", err)
			return 1
		}
		return 0
	case "mds":
		req, err := http.NewRequest("GET", os.Getenv("AC_METADATA_URL")+"/acMetadata/v1/pod/uuid", nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "app:", err)
			return 1
		}
		req.Header.Set("Metadata-Flavor", "AppContainer") // the appc spec's header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, "app: asking the metadata service:", err)
			return 1
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			fmt.Fprintf(os.Stderr, "app: the metadata service answered %s: %s %v\n", resp.Status, body, err)
			return 1
		}
		fmt.Printf("app: mds uuid %s\n", body)
		return 0
	case "talk":
		for i := 1; i <= 3; i++ {
			fmt.Printf("app: line %d\n", i)
		}
		for {
			if _, err := os.Stat("/go"); err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		fmt.Println("app: late line")
		return terminated()
	case "sleep":
		fmt.Println("app: running")
		return terminated()
	case "notify":
		fmt.Println("app: waiting for /go")
		for {
			if _, err := os.Stat("/go"); err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err := notifyReady(); err != nil {
			fmt.Fprintln(os.Stderr, "app: notifying:", err)
			return 1
		}
		fmt.Println("app: sent READY=1")
		return terminated()
	case "greet":
		if n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS")); n < 1 {
			fmt.Fprintf(os.Stderr, "app: no socket passed (LISTEN_FDS=%q)\n", os.Getenv("LISTEN_FDS"))
			return 1
		}
		ln, err := net.FileListener(os.NewFile(3, "listener"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "app: fd 3:", err)
			return 1
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				fmt.Fprintln(c, args[1])
				c.Close()
			}
		}()
		fmt.Println("app: serving the activated socket")
		return terminated()
	}
	fmt.Fprintln(os.Stderr, "app: unknown mode", args[0])
	return 2
}

// notifyReady sends READY=1 to $NOTIFY_SOCKET, as sd_notify(3) does.
func notifyReady() error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return fmt.Errorf("NOTIFY_SOCKET is not set")
	}
	if addr[0] == '@' {
		addr = "\x00" + addr[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte("READY=1"))
	return err
}
