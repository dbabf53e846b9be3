package podspec

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestEnvValuesMustBeUTF8(t *testing.T) {
	file := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(file, []byte("OK=1\nBAD=a\xffb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--set-env=A=\xff", "img"},
		{"--set-env=A=\xc3", "img"},
		{"img", "--environment=A=x\xfey"},
		{"--set-env-file=" + file, "img"},
	} {
		err := Parse(args, &Plan{Command: "run"})
		if !errors.Is(err, ErrUsage) || !errors.Is(err, ErrInvalidEnv) {
			t.Errorf("%q: %v, want a usage error matching %v", args, err, ErrInvalidEnv)
		}
	}
	if err := Parse([]string{"--set-env=A=héllo ✓", "img", "--environment=B=ünï"}, &Plan{Command: "run"}); err != nil {
		t.Errorf("valid UTF-8 values: %v", err)
	}
}
