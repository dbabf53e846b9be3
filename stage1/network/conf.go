package network

import (
	"encoding/json"
	"fmt"
	"github.com/rkt/rkt/common/netspec"
	"log/slog"
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
const NetDir = netspec.NetDir

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

// badConf is a net.d file that could not be read as a network: name is
// the network it names, "" when even that could not be read.
type badConf struct {
	name string
	err  error
}

// loadConfigured reads <dir>/net.d/*.conf and *.conflist of the system
// configuration directory, then of the local one; a network defined in
// the local directory replaces one of the same name in the system
// directory. A file that cannot be read as a network (not JSON, no type, a
// reserved or invalid name, a name another file of the same directory has)
// is returned in bad rather than failing the whole load, as rkt 1.30's
// loader took the keys it knew and left the rest to the plugin: it
// matters only to a pod that asks for that network (see resolve).
func loadConfigured(systemConfig, localConfig string) (map[string]*netConf, []badConf, error) {
	nets := map[string]*netConf{}
	var bad []badConf
	for _, base := range []string{systemConfig, localConfig} {
		if base == "" {
			continue
		}
		dir := filepath.Join(base, NetDir)
		files, err := libcni.ConfFiles(dir, []string{".conf", ".conflist"})
		if err != nil {
			return nil, nil, fmt.Errorf("listing %s: %w", dir, err)
		}
		sort.Strings(files)
		inDir := map[string]string{}
		for _, f := range files {
			nc, err := readConfFile(f)
			if err != nil {
				bad = append(bad, badConf{name: netspec.ConfName(f), err: err})
				continue
			}
			if prev, dup := inDir[nc.name]; dup {
				bad = append(bad, badConf{name: nc.name, err: fmt.Errorf("reading %s: %w: network %q is also defined in %s", f, ErrBadConfig, nc.name, prev)})
				continue
			}
			inDir[nc.name] = f
			nets[nc.name] = nc
		}
	}
	return nets, bad, nil
}

// foldGet is raw[key], the key matched without regard to case (the
// first match in key order when several spellings are present), as Go's
// encoding/json matched rkt 1.30's configuration structs.
func foldGet(raw map[string]any, key string) any {
	if v, ok := raw[key]; ok {
		return v
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.EqualFold(k, key) {
			return raw[k]
		}
	}
	return nil
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
	var in map[string]any
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, err
	}
	// The top-level keys this function reads are matched without regard
	// to case ("Name", "Type"), as rkt 1.30 read them; libcni and the
	// plugins' own decoding match the others the same way.
	raw := map[string]any{}
	for k, v := range in {
		switch {
		case strings.EqualFold(k, "name"), strings.EqualFold(k, "cniVersion"), strings.EqualFold(k, "plugins"):
		default:
			raw[k] = v
		}
	}
	for _, k := range []string{"name", "cniVersion", "plugins"} {
		if v := foldGet(in, k); v != nil {
			raw[k] = v
		}
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
//
// A net.d file that could not be read fails the requests that need it: a
// request for the network it names, and "all". Other requests go on, and
// log a warning naming the file.
func resolve(reqs []NetRequest, systemConfig, localConfig string, log *slog.Logger) ([]*netConf, []NetRequest, error) {
	configured, bad, err := loadConfigured(systemConfig, localConfig)
	if err != nil {
		return nil, nil, err
	}
	needs := func(name string) error {
		for _, b := range bad {
			if b.name == name || name == NetAll {
				return b.err
			}
		}
		return nil
	}
	for _, r := range reqs {
		if err := needs(r.Name); err != nil {
			return nil, nil, err
		}
	}
	for _, b := range bad {
		if log != nil {
			log.Warn(fmt.Sprintf("ignoring a network configuration: %v", b.err))
		}
	}
	lookup := func(name string) (*netConf, error) {
		if err := needs(name); err != nil {
			return nil, err
		}
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

// SystemConfigDir is the system configuration directory whose net.d the
// stage1 reads after the local one (netspec's, which stage0 checks names
// against).
const SystemConfigDir = netspec.SystemConfigDir
