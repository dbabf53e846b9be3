package tests

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rkt/rkt/internal/ptytest"
)

// TestPodInteractive runs `rkt run --interactive` on a real terminal, as
// a user at a shell would: the app's stdin is a terminal, it reads what
// is typed, and its exit code is rkt's.
func TestPodInteractive(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.shImage("tty", `test -t 0 && echo stdin-is-tty; read line; echo "got-$line"; exit 4`)
	master, slave := ptytest.Open(t)

	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := pe.command(ctx, pe.withStage1("run", []string{"--interactive", img})...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()

	var out bytes.Buffer
	answered, asked, closed := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(closed)
		buf := make([]byte, 1024)
		sawTTY := false
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			if !sawTTY && strings.Contains(out.String(), "stdin-is-tty") {
				sawTTY = true
				close(asked)
			}
			if strings.Contains(out.String(), "got-hello") {
				close(answered)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-asked:
	case <-closed:
		cmd.Wait()
		t.Fatalf("the pod ended before its app said its stdin is a terminal; read %q", out.String())
	case <-time.After(commandTimeout):
		t.Fatalf("the app never said its stdin is a terminal; read %q", out.String())
	}
	master.Write([]byte("hello\n"))
	select {
	case <-answered:
	case <-time.After(commandTimeout):
		t.Fatalf("no answer on the terminal; read %q", out.String())
	}
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(interface{ ExitCode() int }); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != 4 {
		t.Errorf("rkt run --interactive: exit %d, want the app's 4; terminal:\n%s", code, out.String())
	}
	// The terminal was the app's, untouched: no log file copied it.
	if logs, _ := filepath.Glob(filepath.Join(pe.dataDir, "pods", "*", "*", "stage1", "rootfs", "rkt", "log")); len(logs) != 0 {
		t.Errorf("an interactive pod kept a log: %v", logs)
	}
}
