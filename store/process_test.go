package store

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/store/storetest"
	"github.com/rkt/rkt/store/tree"
)

// The test binary re-executes itself as a store user in another process
// when helperEnv is set: "ingest" (import helperFile, print the key),
// "hang" (start an ingest, write part of an image, print "ready", wait to
// be killed) and "big" (stream a generated image of helperMB MiB, print the
// peak RSS in KiB) and "killcommit" (import helperFile, SIGKILLing itself
// right after the Commit step helperStep).
const (
	helperEnv  = "STORE_TEST_HELPER"
	helperDir  = "STORE_TEST_DIR"
	helperFile = "STORE_TEST_FILE"
	helperMB   = "STORE_TEST_MB"
	helperStep = "STORE_TEST_STEP"
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
	case "killcommit":
		b, err := os.ReadFile(os.Getenv(helperFile))
		if err != nil {
			return err
		}
		step := os.Getenv(helperStep)
		testHookCommit = func(s string) {
			if s == step {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				time.Sleep(time.Hour)
			}
		}
		if _, err := ingest(s, b, ImportMeta{}); err != nil {
			return err
		}
		return fmt.Errorf("commit step %q never reached", step)
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

// killCommit imports aci in a child process that dies by SIGKILL right
// after the commit step.
func killCommit(t *testing.T, dir string, aci []byte, step string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "image.aci")
	if err := os.WriteFile(file, aci, 0o644); err != nil {
		t.Fatal(err)
	}
	err := helperCmd(t, "killcommit", dir, helperFile+"="+file, helperStep+"="+step).Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper killed at %q: want death by SIGKILL, got %v", step, err)
	}
}

// keyFiles lists the files under cas/ that name key: blob, manifest,
// intent, temps beside them, and its tree directory.
func keyFiles(t *testing.T, dir, key string) []string {
	t.Helper()
	var found []string
	root := filepath.Join(dir, "cas")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(rel, "imagelocks"+string(filepath.Separator)) || strings.HasPrefix(rel, "treestorelocks"+string(filepath.Separator)) {
			return nil
		}
		if strings.Contains(d.Name(), key) {
			found = append(found, rel)
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	return found
}

func TestCommitKilledAtEachStepLeavesNothingAfterOpen(t *testing.T) {
	aci := storetest.BuildACI(t, "example.com/killed", nil, storetest.File{Name: "f", Body: bytes.Repeat([]byte("k"), 1<<20)})
	key := storetest.ImageID(aci)
	for _, step := range []string{"intent", "manifest", "blob", "tree"} {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			killCommit(t, dir, aci, step)
			if len(keyFiles(t, dir, key)) == 0 {
				t.Fatalf("the killed commit left nothing to clean up; the test proves nothing")
			}
			if step == "intent" {
				// As if killed inside the manifest's atomic write.
				mdir := filepath.Join(dir, "cas", "imageManifest", "sha512", key[7:9])
				os.MkdirAll(mdir, 0o770)
				os.WriteFile(filepath.Join(mdir, ".tmp-"+key+"-123456"), []byte(`{"acKind":`), 0o600)
			}
			s := openStore(t, dir)
			assertEmpty(t, s)
			if left := keyFiles(t, dir, key); len(left) != 0 {
				t.Errorf("after Open, still on disk: %v", left)
			}
			// The store works: the same image imports and is whole.
			mustIngest(t, s, aci, ImportMeta{})
			if err := s.VerifyTree(tree.ID(key)); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("row", func(t *testing.T) {
		dir := t.TempDir()
		killCommit(t, dir, aci, "row")
		s := openStore(t, dir)
		if _, err := s.Image(key); err != nil {
			t.Fatalf("killed after its row was written: %v", err)
		}
		rc, err := s.OpenBlob(key)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(b, aci) {
			t.Errorf("blob differs from the imported image")
		}
		if err := s.VerifyTree(tree.ID(key)); err != nil {
			t.Error(err)
		}
		if ents, _ := os.ReadDir(filepath.Join(dir, "cas", "commits")); len(ents) != 0 {
			t.Errorf("intent left after Open: %v", ents)
		}
	})
}

// A commit in progress in another process (its image lock held, its
// intent and files present) is left alone by Open and GC; once its owner
// is gone, the next Open cleans up.
func TestSweepSparesLiveCommit(t *testing.T) {
	dir := t.TempDir()
	aci := storetest.BuildACI(t, "example.com/live", nil)
	key := storetest.ImageID(aci)
	killCommit(t, dir, aci, "blob")
	l, err := flock.LockPath(filepath.Join(dir, "cas", "imagelocks", key), flock.Exclusive, false, true)
	if err != nil {
		t.Fatal(err)
	}
	before := keyFiles(t, dir, key)
	s := openStore(t, dir)
	if _, err := s.GC(GCOptions{GracePeriod: 0}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if after := keyFiles(t, dir, key); !slices.Equal(before, after) {
		t.Fatalf("live commit's files went from %v to %v", before, after)
	}
	l.Close()
	s = openStore(t, dir)
	assertEmpty(t, s)
	if left := keyFiles(t, dir, key); len(left) != 0 {
		t.Errorf("after the owner died, still on disk: %v", left)
	}
}
