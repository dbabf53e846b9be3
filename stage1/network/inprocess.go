package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ip"
	"github.com/containernetworking/plugins/pkg/ipam"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/plugins/ipam/host-local/backend/allocator"
	"github.com/containernetworking/plugins/plugins/ipam/host-local/backend/disk"
	"github.com/vishvananda/netlink"
)

// The built-in networks (default, default-restricted) are added in
// process, with the plugins module's libraries, instead of by exec'ing
// ptp (which execs host-local) and iptables: that start-up was nearly all
// of a pod's network setup time. The result is the one ptp and host-local
// give: the same random veth names, addresses, routes and lease files;
// only masquerade differs (one shared rule set, see MasqChain, instead of a
// chain per pod). The portmap plugin is still exec'd when ports are
// forwarded. net-info.json records which way a network was added
// (inProcess), and Teardown undoes it the same way.

// inProcessBuiltins turns the in-process path on; tests turn it off to
// compare with the plugins.
var inProcessBuiltins = true

// ptpConf is what the in-process path reads of a built-in network's first
// plugin.
type ptpConf struct {
	Type   string          `json:"type"`
	IPMasq bool            `json:"ipMasq"`
	MTU    int             `json:"mtu"`
	IPAM   json.RawMessage `json:"ipam"`
}

// builtinNet is a recorded built-in network, parsed.
type builtinNet struct {
	version string
	ptp     ptpConf
	ipam    *allocator.IPAMConfig
	portmap bool // portmap is chained
}

func loadBuiltin(r *record) (*builtinNet, error) {
	list, err := libcni.NetworkConfFromBytes(r.ConfList)
	if err != nil {
		return nil, fmt.Errorf("reading its recorded configuration: %w", err)
	}
	if len(list.Plugins) == 0 {
		return nil, errors.New("reading its recorded configuration: no plugins")
	}
	bn := &builtinNet{version: list.CNIVersion}
	if err := json.Unmarshal(list.Plugins[0].Bytes, &bn.ptp); err != nil {
		return nil, fmt.Errorf("reading its recorded configuration: %w", err)
	}
	if bn.ptp.Type != "ptp" {
		return nil, fmt.Errorf("reading its recorded configuration: plugin %q, not ptp", bn.ptp.Type)
	}
	for _, p := range list.Plugins[1:] {
		if p.Network.Type != "portmap" {
			return nil, fmt.Errorf("reading its recorded configuration: chained plugin %q, not portmap", p.Network.Type)
		}
		bn.portmap = true
	}
	// host-local is given the whole plugin configuration; it reads only
	// the name and the ipam section.
	b, err := json.Marshal(map[string]any{"cniVersion": list.CNIVersion, "name": list.Name, "ipam": bn.ptp.IPAM})
	if err != nil {
		return nil, err
	}
	bn.ipam, _, err = allocator.LoadIPAMConfig(b, cniArgs(r))
	if err != nil {
		return nil, fmt.Errorf("reading its ipam configuration: %w", err)
	}
	return bn, nil
}

// cniArgs is CNI_ARGS as the plugins would get it.
func cniArgs(r *record) string {
	return joinArgs(runtimeConf(r, "").Args)
}

// addBuiltin adds the built-in network of r as ptp and host-local would,
// then chains portmap when ports are forwarded. What it made is undone by
// delBuiltin, also after a failure half way.
func addBuiltin(ctx context.Context, r *record, nsPath string, dirs []string) error {
	bn, err := loadBuiltin(r)
	if err != nil {
		return err
	}
	res, err := bn.allocate(r.ContainerID, r.IfName)
	if err != nil {
		return fmt.Errorf("allocating an address: %w", err)
	}
	if err := ip.EnableForward(res.IPs); err != nil {
		return fmt.Errorf("enabling IP forwarding: %w", err)
	}
	hostIf, err := setupPodVeth(nsPath, r.IfName, bn.ptp.MTU, res)
	if err != nil {
		return err
	}
	if err := setupHostVeth(hostIf, res); err != nil {
		return err
	}
	if bn.ptp.IPMasq {
		for _, rs := range bn.ipam.Ranges {
			for _, rg := range rs {
				if err := ensureMasquerade(ctx, bn.ipam.Name, (&net.IPNet{IP: rg.Subnet.IP, Mask: rg.Subnet.Mask}).String()); err != nil {
					return err
				}
			}
		}
	}
	if bn.portmap && len(r.PortMappings) > 0 {
		if err := execPortmap(ctx, "ADD", r, nsPath, res, bn.version, dirs); err != nil {
			return fmt.Errorf("forwarding ports: %w", err)
		}
	}
	return fillResult(r, res)
}

// allocate takes an address in every range, as host-local's ADD: in its
// data directory, in its format, under its lock.
func (bn *builtinNet) allocate(id, ifName string) (*types100.Result, error) {
	store, err := disk.New(bn.ipam.Name, bn.ipam.DataDir)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	requested := map[string]net.IP{}
	for _, a := range bn.ipam.IPArgs {
		requested[a.String()] = a
	}
	res := &types100.Result{CNIVersion: bn.version}
	var allocs []*allocator.IPAllocator
	release := func() {
		for _, a := range allocs {
			a.Release(id, ifName)
		}
	}
	for i := range bn.ipam.Ranges {
		rs := &bn.ipam.Ranges[i]
		var want net.IP
		for k, a := range requested {
			if rs.Contains(a) {
				want = a
				delete(requested, k)
				break
			}
		}
		a := allocator.NewIPAllocator(rs, store, i)
		ipc, err := a.Get(id, ifName, want)
		if err != nil {
			release()
			return nil, fmt.Errorf("range %d: %w", i, err)
		}
		allocs = append(allocs, a)
		res.IPs = append(res.IPs, ipc)
	}
	if len(requested) > 0 {
		release()
		var ips []string
		for k := range requested {
			ips = append(ips, k)
		}
		return nil, fmt.Errorf("no range of the network holds %s", strings.Join(ips, ", "))
	}
	res.Routes = bn.ipam.Routes
	return res, nil
}

// setupPodVeth makes the veth pair from inside the pod's namespace, moves
// its host end out, gives the pod end its addresses and routes, and fills
// res.Interfaces (host end first, then the pod's). As ptp does, the pod
// reaches its subnet only through the gateway: the kernel's route to the
// subnet is replaced by a link route to the gateway and a route to the
// subnet via it.
func setupPodVeth(nsPath, ifName string, mtu int, res *types100.Result) (hostIf *types100.Interface, _ error) {
	err := ns.WithNetNSPath(nsPath, func(hostNS ns.NetNS) error {
		hostVeth, podVeth, err := ip.SetupVeth(ifName, mtu, "", hostNS)
		if err != nil {
			return fmt.Errorf("making the veth pair: %w", err)
		}
		hostIf = &types100.Interface{Name: hostVeth.Name, Mac: hostVeth.HardwareAddr.String()}
		res.Interfaces = []*types100.Interface{hostIf,
			{Name: podVeth.Name, Mac: podVeth.HardwareAddr.String(), Sandbox: nsPath}}
		for _, ipc := range res.IPs {
			ipc.Interface = types100.Int(1)
		}
		if err := ipam.ConfigureIface(ifName, res); err != nil {
			return fmt.Errorf("configuring %s: %w", ifName, err)
		}
		for _, ipc := range res.IPs {
			bits := 32
			if ipc.Address.IP.To4() == nil {
				bits = 128
			}
			subnet := &net.IPNet{IP: ipc.Address.IP.Mask(ipc.Address.Mask), Mask: ipc.Address.Mask}
			if err := netlink.RouteDel(&netlink.Route{LinkIndex: podVeth.Index, Dst: subnet, Scope: netlink.SCOPE_NOWHERE}); err != nil {
				return fmt.Errorf("removing the route to %s: %w", subnet, err)
			}
			for _, rt := range []netlink.Route{
				{LinkIndex: podVeth.Index, Dst: &net.IPNet{IP: ipc.Gateway, Mask: net.CIDRMask(bits, bits)}, Scope: netlink.SCOPE_LINK, Src: ipc.Address.IP},
				{LinkIndex: podVeth.Index, Dst: subnet, Scope: netlink.SCOPE_UNIVERSE, Gw: ipc.Gateway, Src: ipc.Address.IP},
			} {
				if err := netlink.RouteAdd(&rt); err != nil {
					return fmt.Errorf("adding the route to %s: %w", rt.Dst, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("setting up the pod's end of the link: %w", err)
	}
	return hostIf, nil
}

// setupHostVeth gives the host end of the link the gateway's address (a
// /32, the same on every pod's link) and a route to each pod address.
func setupHostVeth(hostIf *types100.Interface, res *types100.Result) error {
	link, err := netlink.LinkByName(hostIf.Name)
	if err != nil {
		return fmt.Errorf("setting up the host's end of the link: %w", err)
	}
	for _, ipc := range res.IPs {
		bits := 32
		if ipc.Address.IP.To4() == nil {
			bits = 128
		}
		gw := &net.IPNet{IP: ipc.Gateway, Mask: net.CIDRMask(bits, bits)}
		if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: gw}); err != nil {
			return fmt.Errorf("setting up the host's end of the link: adding %s: %w", gw, err)
		}
		pod := &net.IPNet{IP: ipc.Address.IP, Mask: net.CIDRMask(bits, bits)}
		if err := ip.AddHostRoute(pod, nil, link); err != nil && !os.IsExist(err) {
			return fmt.Errorf("setting up the host's end of the link: adding the route to %s: %w", pod, err)
		}
	}
	return nil
}

// delBuiltin undoes addBuiltin, as far as it got: the port forwards, the
// leases, and the link (its host end and routes go with it). nsPath ""
// (the namespace is gone) leaves the link alone. Masquerade is shared and
// stays.
func delBuiltin(ctx context.Context, r *record, nsPath string, dirs []string) error {
	bn, err := loadBuiltin(r)
	if err != nil {
		return err
	}
	var errs []error
	if bn.portmap && len(r.PortMappings) > 0 {
		if err := execPortmap(ctx, "DEL", r, nsPath, nil, bn.version, dirs); err != nil {
			errs = append(errs, fmt.Errorf("removing the port forwards: %w", err))
		}
	}
	if err := bn.release(r.ContainerID, r.IfName); err != nil {
		errs = append(errs, fmt.Errorf("releasing the address: %w", err))
	}
	if nsPath != "" {
		err := ns.WithNetNSPath(nsPath, func(ns.NetNS) error {
			if err := ip.DelLinkByName(r.IfName); err != nil && !errors.Is(err, ip.ErrLinkNotFound) {
				return err
			}
			return nil
		})
		var gone ns.NSPathNotExistErr
		if err != nil && !errors.As(err, &gone) {
			errs = append(errs, fmt.Errorf("removing %s: %w", r.IfName, err))
		}
	}
	return errors.Join(errs...)
}

// release removes the pod's leases, as host-local's DEL.
func (bn *builtinNet) release(id, ifName string) error {
	store, err := disk.New(bn.ipam.Name, bn.ipam.DataDir)
	if err != nil {
		return err
	}
	defer store.Close()
	var errs []error
	for i := range bn.ipam.Ranges {
		if err := allocator.NewIPAllocator(&bn.ipam.Ranges[i], store, i).Release(id, ifName); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// execPortmap runs the portmap plugin as the last of the built-in
// network's chain, with prev (the in-process ptp's result) for ADD.
func execPortmap(ctx context.Context, command string, r *record, nsPath string, prev *types100.Result, version string, dirs []string) error {
	path, err := invoke.FindInPath("portmap", dirs)
	if err != nil {
		return err
	}
	conf := map[string]any{
		"cniVersion":    version,
		"name":          r.Name,
		"type":          "portmap",
		"capabilities":  map[string]bool{"portMappings": true},
		"runtimeConfig": map[string]any{"portMappings": r.PortMappings},
	}
	if prev != nil {
		conf["prevResult"] = prev
	}
	stdin, err := json.Marshal(conf)
	if err != nil {
		return err
	}
	rt := runtimeConf(r, nsPath)
	args := &invoke.Args{
		Command:     command,
		ContainerID: r.ContainerID,
		NetNS:       nsPath,
		PluginArgs:  rt.Args,
		IfName:      r.IfName,
		Path:        strings.Join(dirs, string(os.PathListSeparator)),
	}
	if command == "ADD" {
		_, err = invoke.ExecPluginWithResult(ctx, path, stdin, args, pluginExec)
	} else {
		err = invoke.ExecPluginWithoutResult(ctx, path, stdin, args, pluginExec)
	}
	return err
}
