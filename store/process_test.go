package store

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rkt/rkt/store/storetest"
)

// The test binary re-executes itself as a store user in another process
// when helperEnv is set: "ingest" (import helperFile, print the key),
// "hang" (start an ingest, write part of an image, print "ready", wait to
// be killed) and "big" (stream a generated image of helperMB MiB, print the
// peak RSS in KiB).
const (
	helperEnv  = "STORE_TEST_HELPER"
	helperDir  = "STORE_TEST_DIR"
	helperFile = "STORE_TEST_FILE"
	helperMB   = "STORE_TEST_MB"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := helper(mode); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helper(mode string) error {
	s, err := Open(os.Getenv(helperDir))
	if err != nil {
		return err
	}
	defer s.Close()
	switch mode {
	case "ingest":
		b, err := os.ReadFile(os.Getenv(helperFile))
		if err != nil {
			return err
		}
		key, err := ingest(s, b, ImportMeta{})
		if err != nil {
			return err
		}
		fmt.Println(key)
	case "hang":
		in, err := s.NewIngest()
		if err != nil {
			return err
		}
		tw := tar.NewWriter(in)
		tw.WriteHeader(&tar.Header{Name: "manifest", Mode: 0o644, Size: int64(len(storetest.Manifest("example.com/killed", nil)))})
		tw.Write(storetest.Manifest("example.com/killed", nil))
		tw.WriteHeader(&tar.Header{Name: "rootfs/big", Mode: 0o644, Size: 64 << 20})
		tw.Write(make([]byte, 8<<20))
		fmt.Println("ready")
		time.Sleep(time.Hour)
	case "big":
		mb, _ := strconv.Atoi(os.Getenv(helperMB))
		in, err := s.NewIngest()
		if err != nil {
			return err
		}
		defer in.Abort()
		tw := tar.NewWriter(in)
		m := storetest.Manifest("example.com/big", nil)
		tw.WriteHeader(&tar.Header{Name: "manifest", Mode: 0o644, Size: int64(len(m))})
		tw.Write(m)
		tw.WriteHeader(&tar.Header{Name: "rootfs/big", Mode: 0o644, Size: int64(mb) << 20})
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		for i := 0; i < mb; i++ {
			chunk[i%len(chunk)]++ // not all chunks alike
			if _, err := tw.Write(chunk); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		if _, err := in.Finish(); err != nil {
			return err
		}
		if _, err := in.Commit(ImportMeta{}); err != nil {
			return err
		}
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				fmt.Println(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			}
		}
	default:
		return fmt.Errorf("unknown helper mode %q", mode)
	}
	return nil
}

func helperCmd(t *testing.T, mode, dir string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode, helperDir + "=" + dir}, env...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

func TestKilledIngestLeavesUsableStore(t *testing.T) {
	dir := t.TempDir()
	cmd := helperCmd(t, "hang", dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		cmd.Process.Kill()
		t.Fatalf("helper: %q %v", line, err)
	}
	// While it lives, its temp area must survive another process's Open.
	s := openStore(t, dir)
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) == 0 {
		t.Fatalf("live ingest of another process was swept")
	}
	s.Close()
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	s = openStore(t, dir)
	assertEmpty(t, s)
	key := mustIngest(t, s, storetest.BuildACI(t, "example.com/after", nil), ImportMeta{})
	if _, err := s.Image(key); err != nil {
		t.Fatal(err)
	}
}

func TestTwoProcessesIngestSameImage(t *testing.T) {
	dir := t.TempDir()
	aci := storetest.BuildACI(t, "example.com/app", nil, storetest.File{Name: "f", Body: bytes.Repeat([]byte("z"), 8<<20)})
	file := filepath.Join(t.TempDir(), "app.aci")
	os.WriteFile(file, aci, 0o644)
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := 0; i < 2; i++ {
		cmd := helperCmd(t, "ingest", dir, helperFile+"="+file)
		var b bytes.Buffer
		cmd.Stdout = &b
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &b)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
		if got := strings.TrimSpace(outs[i].String()); got != storetest.ImageID(aci) {
			t.Fatalf("process %d printed %q, want %s", i, got, storetest.ImageID(aci))
		}
	}
	s := openStore(t, dir)
	if imgs, _ := s.Images(); len(imgs) != 1 {
		t.Fatalf("%d rows, want 1", len(imgs))
	}
	if err := s.VerifyTree("deps-" + storetest.ImageID(aci)); err != nil {
		t.Fatal(err)
	}
	assertTmpEmpty(t, dir)
}

func TestIngestMemoryStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 600 MB to disk; skipped with -short")
	}
	dir := t.TempDir()
	cmd := helperCmd(t, "big", dir, helperMB+"=300")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	kb, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("helper output %q", out)
	}
	t.Logf("peak RSS ingesting a 300 MiB image: %d KiB", kb)
	if kb > 64<<10 {
		t.Errorf("peak RSS %d KiB, want under 64 MiB", kb)
	}
}
