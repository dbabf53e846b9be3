package network

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
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

	nets, reqs, err := resolve([]NetRequest{{Name: "all"}}, sys, local)
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

	if _, _, err := resolve([]NetRequest{{Name: "nosuch"}}, sys, local); !errors.Is(err, ErrUnknownNetwork) {
		t.Errorf("unknown network: %v", err)
	}
	nets, _, err = resolve([]NetRequest{{Name: "none"}}, sys, local)
	if err != nil || len(nets) != 0 {
		t.Errorf("none = %v, %v", nets, err)
	}
	nets, _, err = resolve([]NetRequest{{Name: "default-restricted"}}, "", "")
	if err != nil || len(nets) != 1 || nets[0].source != "builtin" {
		t.Errorf("default-restricted = %v, %v", nets, err)
	}
}

func TestResolveRejectsBadConfigs(t *testing.T) {
	for name, body := range map[string]string{
		"reserved":   `{"name":"host","type":"bridge"}`,
		"bad name":   `{"name":"../x","type":"bridge"}`,
		"no type":    `{"name":"x"}`,
		"path type":  `{"name":"x","type":"../../bin/sh"}`,
		"not json":   `{`,
		"no plugins": `{"name":"x","plugins":[]}`,
	} {
		local := t.TempDir()
		writeConf(t, local, "x.conf", body)
		if _, _, err := resolve([]NetRequest{{Name: "default"}}, "", local); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v, want ErrBadConfig", name, err)
		}
	}
	local := t.TempDir()
	writeConf(t, local, "1.conf", `{"name":"x","type":"bridge"}`)
	writeConf(t, local, "2.conf", `{"name":"x","type":"ptp"}`)
	if _, _, err := resolve([]NetRequest{{Name: "x"}}, "", local); !errors.Is(err, ErrBadConfig) {
		t.Errorf("duplicate: %v, want ErrBadConfig", err)
	}
}
