package podspec

import (
	"sort"
	"strings"

	"github.com/appc/spec/schema"

	"github.com/rkt/rkt/common/podlayout"
)

// ForwardedPorts resolves the pod manifest's ports (--port
// NAME:[HOSTIP:]HOSTPORT, or a --pod-manifest's "ports") against the ports
// its apps declare (each RuntimeApp's app, a copy of its image's): the
// protocol and pod port come from the app's port of that name. The result
// goes to RuntimeConfig.Ports for stage1. Usage errors (ErrUsage): a name
// no app declares (the message lists the names there are), a name two
// apps declare, a name or a host address and port forwarded twice.
func ForwardedPorts(pm *schema.PodManifest) ([]podlayout.PortForward, error) {
	declared := map[string][]decl{}
	for _, ra := range pm.Apps {
		if ra.App == nil {
			continue
		}
		for _, p := range ra.App.Ports {
			declared[p.Name.String()] = append(declared[p.Name.String()], decl{ra.Name.String(), p.Protocol, p.Port})
		}
	}
	var out []podlayout.PortForward
	names := map[string]bool{}
	for _, ep := range pm.Ports {
		name := ep.Name.String()
		ds := declared[name]
		switch {
		case len(ds) == 0:
			return nil, usagef("--port=%s: no app of the pod declares a port named %q (declared: %s)", name, name, declaredNames(declared))
		case len(ds) > 1:
			return nil, usagef("--port=%s: apps %q and %q both declare a port named %q", name, ds[0].app, ds[1].app, name)
		case names[name]:
			return nil, usagef("--port=%s: port %q is forwarded twice", name, name)
		}
		names[name] = true
		d := ds[0]
		if d.port == 0 || d.port > 65535 || ep.HostPort == 0 || ep.HostPort > 65535 {
			return nil, usagef("--port=%s: port out of range (app %q: %d, host: %d)", name, d.app, d.port, ep.HostPort)
		}
		fw := podlayout.PortForward{
			Name:     name,
			Protocol: strings.ToLower(d.protocol),
			PodPort:  uint16(d.port),
			HostPort: uint16(ep.HostPort),
		}
		if ep.HostIP != nil && !ep.HostIP.IsUnspecified() {
			fw.HostIP = ep.HostIP.String()
		}
		if fw.Protocol != "tcp" && fw.Protocol != "udp" {
			return nil, usagef("--port=%s: app %q declares it with protocol %q: only tcp and udp ports can be forwarded", name, d.app, d.protocol)
		}
		for _, o := range out {
			// The unspecified address overlaps every other one.
			if o.Protocol == fw.Protocol && o.HostPort == fw.HostPort && (o.HostIP == fw.HostIP || o.HostIP == "" || fw.HostIP == "") {
				return nil, usagef("--port=%s: host port %s/%d is already forwarded to port %q", name, fw.Protocol, fw.HostPort, o.Name)
			}
		}
		out = append(out, fw)
	}
	return out, nil
}

// decl is a port an app declares.
type decl struct {
	app      string
	protocol string
	port     uint
}

func declaredNames(declared map[string][]decl) string {
	if len(declared) == 0 {
		return "none"
	}
	names := make([]string, 0, len(declared))
	for n := range declared {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
