package netspec

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// CheckNames knows the built-in networks and those net.d files name, in
// the system and the local configuration, keys in any case.
func TestCheckNames(t *testing.T) {
	local := t.TempDir()
	if err := os.MkdirAll(filepath.Join(local, NetDir), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := `{"cniVersion":"0.3.1","name":"mine","type":"ptp","ipam":{"type":"host-local","subnet":"10.99.0.0/24"}}`
	if err := os.WriteFile(filepath.Join(local, NetDir, "10-mine.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	system := t.TempDir()
	if err := os.MkdirAll(filepath.Join(system, NetDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(system, NetDir, "20-sys.conflist"), []byte(`{"Name":"sysnet","plugins":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ok := range [][]string{{"default"}, {"none"}, {"host"}, {"mine"}, {"mine", "default"}, {"default-restricted"}, {"sysnet"}} {
		if err := CheckNames(ok, system, local); err != nil {
			t.Errorf("CheckNames(%v) = %v, want nil", ok, err)
		}
	}
	if err := CheckNames([]string{"bogus"}, system, local); !errors.Is(err, ErrUnknownNetwork) {
		t.Errorf("CheckNames(bogus) = %v, want %v", err, ErrUnknownNetwork)
	}
	if err := CheckNames([]string{"default", "bogus"}, system, local); !errors.Is(err, ErrUnknownNetwork) {
		t.Errorf("CheckNames(default,bogus) = %v, want %v", err, ErrUnknownNetwork)
	}
	if err := CheckNames([]string{"bad name!"}, system, local); err == nil {
		t.Error("CheckNames(bad name!) = nil, want an error")
	}
}
