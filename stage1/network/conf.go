package network

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

// CNIVersion is the CNI spec version of the built-in networks, and the one
// given to a configured network that names none.
const CNIVersion = "1.0.0"

// DefaultPluginDirs are searched for CNI plugins when Config.PluginDirs is
// empty: Debian's containernetworking-plugins, then the usual upstream
// locations.
var DefaultPluginDirs = []string{"/usr/lib/cni", "/usr/libexec/cni", "/opt/cni/bin"}

// NetDir is the directory under a configuration directory that holds
// network configurations.
const NetDir = "net.d"

// Built-in networks, as rkt defined them. The portmap plugin is chained
// only into a network that forwards ports (withPortmap): it costs an exec
// at every ADD and DEL even with nothing to forward.
const (
	defaultConf = `{"cniVersion":"1.0.0","name":"default","plugins":[
{"type":"ptp","ipMasq":true,"ipam":{"type":"host-local","subnet":"172.16.28.0/24","routes":[{"dst":"0.0.0.0/0"}]}}]}`
	defaultRestrictedConf = `{"cniVersion":"1.0.0","name":"default-restricted","plugins":[
{"type":"ptp","ipMasq":false,"ipam":{"type":"host-local","subnet":"172.31.0.0/16"}}]}`
	portmapPlugin = `{"type":"portmap","capabilities":{"portMappings":true}}`
)

// netConf is one network ready to be added: its configuration list and
// where it came from.
type netConf struct {
	name   string
	source string // the file it was read from, or "builtin"
	list   *libcni.NetworkConfigList
}

// forwardsPorts reports whether ports can be forwarded on the network: a
// built-in one, or one with a plugin that takes port mappings.
func (nc *netConf) forwardsPorts() bool {
	return nc.source == "builtin" || hasPortMappings(nc.list)
}

// withPortmap returns nc's list, with the portmap plugin chained to a
// built-in network.
func (nc *netConf) withPortmap() (*libcni.NetworkConfigList, error) {
	if hasPortMappings(nc.list) || nc.source != "builtin" {
		return nc.list, nil
	}
	var raw map[string]any
	if err := json.Unmarshal(nc.list.Bytes, &raw); err != nil {
		return nil, err
	}
	var pm any
	if err := json.Unmarshal([]byte(portmapPlugin), &pm); err != nil {
		return nil, err
	}
	raw["plugins"] = append(raw["plugins"].([]any), pm)
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	return libcni.NetworkConfFromBytes(b)
}

func builtin(name string) (*netConf, bool) {
	var b string
	switch name {
	case NetDefault:
		b = defaultConf
	case NetDefaultRestricted:
		b = defaultRestrictedConf
	default:
		return nil, false
	}
	list, err := libcni.NetworkConfFromBytes([]byte(b))
	if err != nil {
		panic("network: built-in configuration does not parse: " + err.Error())
	}
	return &netConf{name: name, source: "builtin", list: list}, true
}

// loadConfigured reads <dir>/net.d/*.conf and *.conflist of the system
// configuration directory, then of the local one; a network defined in
// the local directory replaces one of the same name in the system
// directory. Two files naming the same network in one directory are an
// error, as is a network named host, none or all.
func loadConfigured(systemConfig, localConfig string) (map[string]*netConf, error) {
	nets := map[string]*netConf{}
	for _, base := range []string{systemConfig, localConfig} {
		if base == "" {
			continue
		}
		dir := filepath.Join(base, NetDir)
		files, err := libcni.ConfFiles(dir, []string{".conf", ".conflist"})
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", dir, err)
		}
		sort.Strings(files)
		inDir := map[string]string{}
		for _, f := range files {
			nc, err := readConfFile(f)
			if err != nil {
				return nil, err
			}
			if prev, dup := inDir[nc.name]; dup {
				return nil, fmt.Errorf("reading %s: %w: network %q is also defined in %s", f, ErrBadConfig, nc.name, prev)
			}
			inDir[nc.name] = f
			nets[nc.name] = nc
		}
	}
	return nets, nil
}

// readConfFile reads one network configuration: a list (with "plugins")
// or a single plugin, which becomes a list of one.
func readConfFile(path string) (*netConf, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	list, err := parseConf(b)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w: %w", path, ErrBadConfig, err)
	}
	switch list.Name {
	case NetHost, NetNone, NetAll:
		return nil, fmt.Errorf("reading %s: %w: %q is reserved", path, ErrBadConfig, list.Name)
	}
	if err := ValidNetName(list.Name); err != nil {
		return nil, fmt.Errorf("reading %s: %w: %w", path, ErrBadConfig, err)
	}
	return &netConf{name: list.Name, source: path, list: list}, nil
}

// parseConf turns configuration bytes into a self-contained list: plugins
// are only ever taken from the file itself, and a missing cniVersion
// becomes CNIVersion.
func parseConf(b []byte) (*libcni.NetworkConfigList, error) {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	if v, _ := raw["cniVersion"].(string); v == "" {
		raw["cniVersion"] = CNIVersion
	}
	if _, isList := raw["plugins"]; !isList {
		plugin := map[string]any{}
		for k, v := range raw {
			if k != "name" && k != "cniVersion" {
				plugin[k] = v
			}
		}
		raw = map[string]any{"cniVersion": raw["cniVersion"], "name": raw["name"], "plugins": []any{plugin}}
	}
	raw["loadOnlyInlinedPlugins"] = true
	nb, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	list, err := libcni.NetworkConfFromBytes(nb)
	if err != nil {
		return nil, err
	}
	for i, p := range list.Plugins {
		if p.Network == nil || p.Network.Type == "" {
			return nil, fmt.Errorf("plugin %d has no type", i)
		}
		if strings.ContainsAny(p.Network.Type, "/\x00") {
			return nil, fmt.Errorf("plugin %d: type %q is not a plugin name", i, p.Network.Type)
		}
	}
	return list, nil
}

// resolve maps requests to the networks to add, in order. "none" gives
// none; "all" gives every configured network by name, then default (and
// default-restricted only if configured under that name).
func resolve(reqs []NetRequest, systemConfig, localConfig string) ([]*netConf, []NetRequest, error) {
	configured, err := loadConfigured(systemConfig, localConfig)
	if err != nil {
		return nil, nil, err
	}
	lookup := func(name string) (*netConf, error) {
		if nc, ok := configured[name]; ok {
			return nc, nil
		}
		if nc, ok := builtin(name); ok {
			return nc, nil
		}
		return nil, fmt.Errorf("%w: %q (configure it in %s)", ErrUnknownNetwork, name, filepath.Join(localConfig, NetDir))
	}
	var nets []*netConf
	var outReqs []NetRequest
	for _, r := range reqs {
		switch r.Name {
		case NetNone:
			continue
		case NetHost:
			return nil, nil, fmt.Errorf("%w: %q cannot be combined with other networks", ErrUsage, r.Name)
		case NetAll:
			names := make([]string, 0, len(configured))
			for n := range configured {
				if n != NetDefault {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			names = append(names, NetDefault)
			for _, n := range names {
				nc, err := lookup(n)
				if err != nil {
					return nil, nil, err
				}
				nets = append(nets, nc)
				outReqs = append(outReqs, NetRequest{Name: n})
			}
		default:
			if err := ValidNetName(r.Name); err != nil {
				return nil, nil, err
			}
			nc, err := lookup(r.Name)
			if err != nil {
				return nil, nil, err
			}
			nets = append(nets, nc)
			outReqs = append(outReqs, r)
		}
	}
	return nets, outReqs, nil
}

// hasPortMappings reports whether a plugin of the list takes port
// mappings from the runtime.
func hasPortMappings(list *libcni.NetworkConfigList) bool {
	for _, p := range list.Plugins {
		if p.Network != nil && p.Network.Capabilities["portMappings"] {
			return true
		}
	}
	return false
}
