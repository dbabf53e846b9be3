package netspec

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestLoad reads net-info.json as stage1 writes it: records carry more
// than list and status show, and an empty file means nothing was added.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); !errors.Is(err, ErrNoNetwork) {
		t.Errorf("no net-info.json: %v, want ErrNoNetwork", err)
	}

	rec := `[{"netName":"default","ifName":"eth0","ip":"172.16.28.5","mask":"255.255.255.0",` +
		`"args":"","netConf":"builtin","pluginPath":"/usr/lib/cni","containerID":"x",` +
		`"confList":{"name":"default"},"inProcess":true,"dns":{"nameservers":["1.1.1.1"]}}]`
	if err := os.WriteFile(filepath.Join(dir, NetInfoFile), []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, NetNSFile), []byte("/run/netns/rkt-x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.NetNS != "/run/netns/rkt-x" || len(info.Nets) != 1 {
		t.Fatalf("Load = %+v, want the namespace and one network", info)
	}
	n := info.Nets[0]
	if n.Name != "default" || n.IfName != "eth0" || n.IP != "172.16.28.5" || n.DNS == nil || n.DNS.Nameservers[0] != "1.1.1.1" {
		t.Errorf("network = %+v", n)
	}

	if err := os.WriteFile(filepath.Join(dir, NetInfoFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if info, err := Load(dir); err != nil || len(info.Nets) != 0 {
		t.Errorf("empty net-info.json: %+v, %v; want no networks", info, err)
	}

	if err := os.WriteFile(filepath.Join(dir, NetInfoFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil {
		t.Error("garbage net-info.json: no error")
	}
}
