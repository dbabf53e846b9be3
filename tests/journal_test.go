package tests

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostJournalSocket is where journald listens for native messages on a
// host booted by systemd; stage1 binds it into the pod for the supervisor.
const hostJournalSocket = "/run/systemd/journal/socket"

// parseJournalDatagram decodes one datagram of journald's native protocol:
// KEY=value lines, or KEY\n<little-endian uint64 length><value>\n for a
// value that holds a newline.
func parseJournalDatagram(b []byte) (map[string]string, error) {
	fields := map[string]string{}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			return nil, fmt.Errorf("field %.40q without a newline", b)
		}
		line := b[:nl]
		b = b[nl+1:]
		if k, v, ok := bytes.Cut(line, []byte("=")); ok {
			fields[string(k)] = string(v)
			continue
		}
		if len(b) < 8 {
			return nil, fmt.Errorf("binary field %q without its length", line)
		}
		n := binary.LittleEndian.Uint64(b)
		b = b[8:]
		if uint64(len(b)) < n+1 {
			return nil, fmt.Errorf("binary field %q shorter than its length %d", line, n)
		}
		fields[string(line)] = string(b[:n])
		b = b[n+1:]
	}
	return fields, nil
}

// TestJournalOutput: on a host with journald's socket, an app's output
// reaches the journal as native datagrams carrying rkt's fields, and stays
// on rkt's stdout and stderr. The receiver is a unix datagram socket bound
// at journald's own path on this host, which has no journald; it reads
// what journald would. The app itself does not see the socket.
func TestJournalOutput(t *testing.T) {
	pe := newPodEnv(t)
	if _, err := os.Lstat(hostJournalSocket); err == nil {
		t.Skipf("%s exists (a running journald owns it): TestJournalFields in the systemd suite reads the journal there", hostJournalSocket)
	}
	made := []string{}
	for _, d := range []string{"/run/systemd", "/run/systemd/journal"} {
		if err := os.Mkdir(d, 0o755); err == nil {
			made = append([]string{d}, made...)
		} else if !errors.Is(err, os.ErrExist) {
			t.Fatal(err)
		}
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: hostJournalSocket, Net: "unixgram"})
	if err != nil {
		t.Fatalf("binding a datagram socket at %s: %v", hostJournalSocket, err)
	}
	t.Cleanup(func() {
		conn.Close()
		os.Remove(hostJournalSocket)
		for _, d := range made {
			os.Remove(d)
		}
	})
	if err := os.Chmod(hostJournalSocket, 0o666); err != nil {
		t.Fatal(err)
	}
	got := make(chan map[string]string, 64)
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(got)
				return
			}
			f, err := parseJournalDatagram(buf[:n])
			if err != nil {
				t.Errorf("malformed journal datagram: %v", err)
				continue
			}
			got <- f
		}
	}()

	nonce := fmt.Sprint(time.Now().UnixNano())
	img := pe.shImage("talker", fmt.Sprintf(
		"echo out-%[1]s; echo err-%[1]s >&2; if [ -e %[2]s ]; then echo app-sees-journal; fi", nonce, hostJournalSocket))
	pe.ok("fetch", img)
	uuid, stdout, stderr, code := pe.runSaved(img)
	if code != 0 {
		t.Fatalf("rkt run: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "out-"+nonce) || !strings.Contains(stderr, "err-"+nonce) {
		t.Errorf("the console lost the app's output with a journal present:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	if strings.Contains(stdout, "app-sees-journal") {
		t.Errorf("the app's rootfs holds %s; only stage1 should", hostJournalSocket)
	}

	checkJournalEntries(t, got, uuid, nonce)

	// Under a unit whose StandardOutput= is the journal (JOURNAL_STREAM
	// names rkt's stdout), the console copy of stdout would be a second
	// journal entry without the fields: only the journal gets the line.
	// stderr is not that stream and keeps its copy.
	outFile, err := os.Create(pe.base + "/stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(outFile.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	uuidFile := pe.base + "/uuid-stream"
	cmd := pe.env.command(context.Background(), pe.withStage1("run", []string{"--uuid-file-save=" + uuidFile, img})...)
	cmd.Env = append(cmd.Env, fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino))
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = outFile, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("rkt run with JOURNAL_STREAM: %v\n%s", err, errb.String())
	}
	b, err := os.ReadFile(uuidFile)
	if err != nil {
		t.Fatal(err)
	}
	checkJournalEntries(t, got, strings.TrimSpace(string(b)), nonce)
	if out, _ := os.ReadFile(outFile.Name()); strings.Contains(string(out), "out-"+nonce) {
		t.Errorf("stdout, the journal stream, also got the app's line; journalctl -u would show it twice:\n%s", out)
	}
	if !strings.Contains(errb.String(), "err-"+nonce) {
		t.Errorf("stderr, not the journal stream, lost the app's line:\n%s", errb.String())
	}
}

// checkJournalEntries waits for the pod's two lines among the datagrams
// and checks their fields.
func checkJournalEntries(t *testing.T, got <-chan map[string]string, uuid, nonce string) {
	t.Helper()
	want := map[string]string{"out-" + nonce: "6", "err-" + nonce: "3"}
	seen := map[string]map[string]string{}
	timeout := time.After(30 * time.Second)
	for len(seen) < len(want) {
		select {
		case f, ok := <-got:
			if !ok {
				t.Fatal("the journal socket closed")
			}
			if _, ok := want[f["MESSAGE"]]; ok && f["RKT_POD_UUID"] == uuid {
				seen[f["MESSAGE"]] = f
			}
		case <-timeout:
			t.Fatalf("the journal received %d of the app's 2 lines: %v", len(seen), seen)
		}
	}
	for msg, prio := range want {
		f := seen[msg]
		for k, v := range map[string]string{"SYSLOG_IDENTIFIER": "talker", "RKT_APP": "talker", "RKT_POD_UUID": uuid, "PRIORITY": prio} {
			if f[k] != v {
				t.Errorf("journal entry %q: %s=%q, want %q (all fields: %v)", msg, k, f[k], v, f)
			}
		}
		if f["SYSLOG_PID"] == "" {
			t.Errorf("journal entry %q has no SYSLOG_PID: %v", msg, f)
		}
	}
}
