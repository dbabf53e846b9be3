package network

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCheck(t *testing.T) {
	local := t.TempDir()
	if err := os.MkdirAll(filepath.Join(local, NetDir), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := `{"cniVersion":"0.3.1","name":"mine","type":"ptp","ipam":{"type":"host-local","subnet":"10.99.0.0/24"}}`
	if err := os.WriteFile(filepath.Join(local, NetDir, "10-mine.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	system := t.TempDir()
	for _, ok := range [][]string{{"default"}, {"none"}, {"host"}, {"mine"}, {"mine", "default"}, {"default-restricted"}} {
		if err := Check(ok, system, local); err != nil {
			t.Errorf("Check(%v) = %v, want nil", ok, err)
		}
	}
	if err := Check([]string{"bogus"}, system, local); !errors.Is(err, ErrUnknownNetwork) {
		t.Errorf("Check(bogus) = %v, want %v", err, ErrUnknownNetwork)
	}
	if err := Check([]string{"default", "bogus"}, system, local); !errors.Is(err, ErrUnknownNetwork) {
		t.Errorf("Check(default,bogus) = %v, want %v", err, ErrUnknownNetwork)
	}
	if err := Check([]string{"bad name!"}, system, local); err == nil {
		t.Error("Check(bad name!) = nil, want an error")
	}
}
