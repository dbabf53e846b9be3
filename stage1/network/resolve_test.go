package network

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeConf(t *testing.T, dir, file, body string) {
	t.Helper()
	d := filepath.Join(dir, NetDir)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, file), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestResolve(t *testing.T) {
	sys, local := t.TempDir(), t.TempDir()
	writeConf(t, sys, "10-a.conf", `{"name":"a","type":"bridge","ipam":{"type":"host-local","subnet":"10.9.0.0/24"}}`)
	writeConf(t, sys, "20-b.conf", `{"name":"b","type":"bridge"}`)
	writeConf(t, local, "10-b.conflist", `{"cniVersion":"1.0.0","name":"b","plugins":[{"type":"macvlan"},{"type":"portmap","capabilities":{"portMappings":true}}]}`)
	writeConf(t, local, "README", `not a configuration`)

	nets, reqs, err := resolve([]NetRequest{{Name: "all"}}, sys, local, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range nets {
		names = append(names, n.name)
	}
	if want := []string{"a", "b", "default"}; !reflect.DeepEqual(names, want) {
		t.Errorf("all = %v, want %v", names, want)
	}
	if len(reqs) != 3 || reqs[2].Name != "default" {
		t.Errorf("requests for all = %+v", reqs)
	}
	// b comes from the local directory, which wins.
	if nets[1].source != filepath.Join(local, NetDir, "10-b.conflist") || len(nets[1].list.Plugins) != 2 || !hasPortMappings(nets[1].list) {
		t.Errorf("b = %s with %d plugins", nets[1].source, len(nets[1].list.Plugins))
	}
	// a single-plugin file becomes a list with the default version
	if nets[0].list.CNIVersion != CNIVersion || len(nets[0].list.Plugins) != 1 || nets[0].list.Plugins[0].Network.Type != "bridge" {
		t.Errorf("a = %+v", nets[0].list)
	}
	if hasPortMappings(nets[0].list) {
		t.Error("a claims port mappings")
	}

	if _, _, err := resolve([]NetRequest{{Name: "nosuch"}}, sys, local, nil); !errors.Is(err, ErrUnknownNetwork) {
		t.Errorf("unknown network: %v", err)
	}
	nets, _, err = resolve([]NetRequest{{Name: "none"}}, sys, local, nil)
	if err != nil || len(nets) != 0 {
		t.Errorf("none = %v, %v", nets, err)
	}
	nets, _, err = resolve([]NetRequest{{Name: "default-restricted"}}, "", "", nil)
	if err != nil || len(nets) != 1 || nets[0].source != "builtin" {
		t.Errorf("default-restricted = %v, %v", nets, err)
	}
}

// A net.d file that cannot be read as a network fails the pods that ask for
// it (by name, or with all), and only warns for the others: one broken file
// must not take --net=default down with it.
func TestResolveBadConfigsFailOnlyTheirNetwork(t *testing.T) {
	for name, c := range map[string]struct {
		body, net string // net: the network the file names, "" when unreadable
	}{
		"reserved":   {`{"name":"host","type":"bridge"}`, "host"},
		"bad name":   {`{"name":"../x","type":"bridge"}`, "../x"},
		"no type":    {`{"name":"x"}`, "x"},
		"path type":  {`{"name":"x","type":"../../bin/sh"}`, "x"},
		"not json":   {`{`, ""},
		"no plugins": {`{"name":"x","plugins":[]}`, "x"},
	} {
		local := t.TempDir()
		writeConf(t, local, "x.conf", c.body)
		var logged bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logged, nil))
		nets, _, err := resolve([]NetRequest{{Name: "default"}}, "", local, log)
		if err != nil || len(nets) != 1 || nets[0].name != "default" {
			t.Errorf("%s: --net=default: %v, %v; want the default network", name, nets, err)
		}
		if !strings.Contains(logged.String(), "x.conf") {
			t.Errorf("%s: no warning naming the file: %q", name, logged.String())
		}
		if _, _, err := resolve([]NetRequest{{Name: "all"}}, "", local, nil); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: --net=all: %v, want ErrBadConfig", name, err)
		}
		if c.net == "x" {
			if _, _, err := resolve([]NetRequest{{Name: "x"}}, "", local, nil); !errors.Is(err, ErrBadConfig) {
				t.Errorf("%s: --net=x: %v, want ErrBadConfig", name, err)
			}
		}
	}
	local := t.TempDir()
	writeConf(t, local, "1.conf", `{"name":"x","type":"bridge"}`)
	writeConf(t, local, "2.conf", `{"name":"x","type":"ptp"}`)
	if _, _, err := resolve([]NetRequest{{Name: "x"}}, "", local, nil); !errors.Is(err, ErrBadConfig) {
		t.Errorf("duplicate: %v, want ErrBadConfig", err)
	}
	if _, _, err := resolve([]NetRequest{{Name: "default"}}, "", local, nil); err != nil {
		t.Errorf("duplicate x, --net=default: %v", err)
	}
}

// rkt 1.30 read net.d keys without regard to case, as Go's JSON decoding
// does: "Name" and "Type" name the network and its plugin.
func TestResolveKeysIgnoreCase(t *testing.T) {
	local := t.TempDir()
	writeConf(t, local, "10-caps.conf", `{"CNIVersion":"0.4.0","Name":"caps","Type":"bridge","IPAM":{"Type":"host-local","Subnet":"10.9.0.0/24"}}`)
	nets, _, err := resolve([]NetRequest{{Name: "caps"}}, "", local, nil)
	if err != nil || len(nets) != 1 || nets[0].name != "caps" {
		t.Fatalf("--net=caps: %v, %v", nets, err)
	}
	if typ := nets[0].list.Plugins[0].Network.Type; typ != "bridge" {
		t.Errorf("plugin type %q, want bridge", typ)
	}
}
