package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/podlayout"
)

// NetCacheDir, in the pod directory, is libcni's cache of results, for DEL.
const NetCacheDir = "net"

// Config says which networks a pod joins.
type Config struct {
	PodUUID string
	PodDir  string
	// LocalConfig and SystemConfig are rkt's configuration directories;
	// networks are read from their net.d (local wins).
	LocalConfig, SystemConfig string
	// Nets as returned by ParseNetFlag; empty means default.
	Nets []NetRequest
	// Ports are forwarded from the host on the first network whose
	// configuration takes port mappings (default and default-restricted do).
	Ports []PortForward
	// PluginDirs are searched for CNI plugins; empty means DefaultPluginDirs.
	PluginDirs []string
	Log        *slog.Logger
}

// PortForward forwards HostIP:HostPort on the host to PodPort in the pod.
type PortForward struct {
	Name     string // the manifest port's name, for messages
	Protocol string // "tcp" or "udp"
	PodPort  uint16
	HostIP   string // "" = every host address
	HostPort uint16
}

// record is one entry of net-info.json: what Teardown needs to undo the
// network without the configuration files, plus what list/status show.
type record struct {
	NetInfo
	ConfSource   string          `json:"netConf"`    // file, or "builtin"
	PluginPath   string          `json:"pluginPath"` // plugin dirs, ':'-separated
	ContainerID  string          `json:"containerID"`
	HostIfName   string          `json:"hostIfName,omitempty"` // first host-side link of the result
	ConfList     json.RawMessage `json:"confList"`
	PortMappings []portMapping   `json:"portMappings,omitempty"`
	// InProcess is set for a built-in network added by this package
	// itself rather than by exec'ing its plugins (see inprocess.go);
	// Teardown undoes it the same way.
	InProcess bool `json:"inProcess,omitempty"`
}

// portMapping is the portmap plugin's runtimeConfig entry.
type portMapping struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// Setup gives the pod its networks: for host networking it does nothing
// and returns an Info without NetNS. Otherwise it makes the namespace
// (bind-mounted at NetNSPath), records every network in net-info.json
// before adding any, adds them in order as eth0, eth1, ..., forwards the
// ports, and records the results. On failure everything made so far is
// undone. The caller holds the pod's lock.
func Setup(ctx context.Context, cfg Config) (_ *Info, retErr error) {
	if err := podlayout.ValidUUID(cfg.PodUUID); err != nil {
		return nil, fmt.Errorf("setting up the network: %w", err)
	}
	if cfg.PodDir == "" {
		return nil, errors.New("setting up the network: no pod directory")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	reqs := cfg.Nets
	if len(reqs) == 0 {
		reqs = []NetRequest{{Name: NetDefault}}
	}
	if IsHost(reqs) {
		if len(cfg.Ports) > 0 {
			log.Debug("ports need no forwarding with host networking")
		}
		return &Info{}, nil
	}
	nets, reqs, err := resolve(reqs, cfg.SystemConfig, cfg.LocalConfig, log)
	if err != nil {
		return nil, fmt.Errorf("setting up the network: %w", err)
	}
	mappings, err := portMappings(cfg.Ports)
	if err != nil {
		return nil, fmt.Errorf("setting up the network: %w", err)
	}
	if len(mappings) > 0 && !anyForwardsPorts(nets) {
		return nil, fmt.Errorf("setting up the network: %w: no network of the pod forwards ports (use default or a network with the portmap plugin)", ErrUsage)
	}
	dirs := cfg.PluginDirs
	if len(dirs) == 0 {
		dirs = DefaultPluginDirs
	}

	nsPath := NetNSPath(cfg.PodUUID)
	// Recorded before it is made: a start killed in between leaves a
	// namespace that Teardown still finds. The record stays when the
	// namespace cannot be made: it names this pod's namespace, which may
	// exist already (ErrNetNSExists), and Teardown takes a missing one
	// for removed.
	if err := atomicfile.ReplaceFile(filepath.Join(cfg.PodDir, NetNSFile), []byte(nsPath), 0o644); err != nil {
		return nil, fmt.Errorf("setting up the network: writing %s: %w", NetNSFile, err)
	}
	if err := createNetNS(nsPath); err != nil {
		return nil, fmt.Errorf("setting up the network: %w", err)
	}
	var recs []record
	tried := 0 // networks whose ADD ran, the failed one included
	defer func() {
		if retErr == nil {
			return
		}
		// DEL what was added, and the network whose ADD failed in case it
		// left something; that last DEL may well fail (a missing plugin)
		// and does not keep the state files.
		errs := teardown(context.WithoutCancel(ctx), cfg.PodDir, nsPath, recs[:tried], tried-1)
		if errs != nil {
			log.Warn("undoing a failed network setup", "pod", cfg.PodUUID, "err", errs)
		}
	}()
	forwarded := false
	for i, nc := range nets {
		r := record{
			NetInfo:     NetInfo{Name: nc.name, IfName: "eth" + strconv.Itoa(i), Args: joinArgs(reqs[i].CNIArgs())},
			ConfSource:  nc.source,
			PluginPath:  strings.Join(dirs, string(filepath.ListSeparator)),
			ContainerID: cfg.PodUUID,
			InProcess:   inProcessBuiltins && nc.source == "builtin",
		}
		if !forwarded && len(mappings) > 0 && nc.forwardsPorts() {
			list, err := nc.withPortmap()
			if err != nil {
				return nil, fmt.Errorf("setting up the network: chaining portmap to %q: %w", nc.name, err)
			}
			nets[i].list = list
			r.PortMappings = mappings
			forwarded = true
		}
		r.ConfList = nets[i].list.Bytes
		recs = append(recs, r)
	}
	// Durable before any ADD: IPAM leases outlive a crash, and this is
	// what lets Teardown release them.
	if err := writeRecords(cfg.PodDir, recs, true); err != nil {
		return nil, fmt.Errorf("setting up the network: %w", err)
	}

	cni := libcni.NewCNIConfigWithCacheDir(dirs, filepath.Join(cfg.PodDir, NetCacheDir), pluginExec)
	for i := range recs {
		r := &recs[i]
		tried = i + 1
		if r.InProcess {
			if err := addBuiltin(ctx, r, nsPath, dirs); err != nil {
				return nil, fmt.Errorf("setting up the network: adding network %q: %w", r.Name, err)
			}
		} else {
			res, err := cni.AddNetworkList(ctx, nets[i].list, runtimeConf(r, nsPath))
			if err != nil {
				return nil, fmt.Errorf("setting up the network: adding network %q: %w", r.Name, err)
			}
			if err := fillResult(r, res); err != nil {
				return nil, fmt.Errorf("setting up the network: adding network %q: %w", r.Name, err)
			}
		}
		log.Debug("network added", "pod", cfg.PodUUID, "net", r.Name, "if", r.IfName, "ip", r.IP)
	}
	if err := writeRecords(cfg.PodDir, recs, false); err != nil {
		return nil, fmt.Errorf("setting up the network: %w", err)
	}
	return infoOf(nsPath, recs), nil
}

// Teardown removes a pod's networks: DEL for every network recorded in
// net-info.json, last first (releasing IPAM leases, links and iptables
// rules), then the namespace and the pod's network files. It is safe on
// a pod that was never set up, half set up, or already torn down. When a
// DEL fails the state files stay, so a later Teardown can finish the job.
func Teardown(ctx context.Context, podDir string) error {
	recs, err := readRecords(podDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("tearing down the network: %w", err)
	}
	nsPath := ""
	if b, err := os.ReadFile(filepath.Join(podDir, NetNSFile)); err == nil {
		nsPath = strings.TrimSpace(string(b))
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("tearing down the network: reading %s: %w", NetNSFile, err)
	}
	if nsPath == "" && len(recs) > 0 && podlayout.ValidUUID(recs[0].ContainerID) == nil {
		nsPath = NetNSPath(recs[0].ContainerID)
	}
	if nsPath != "" && filepath.Dir(nsPath) != NetNSDir {
		return fmt.Errorf("tearing down the network: %s names %q, not a path in %s", NetNSFile, nsPath, NetNSDir)
	}
	if err := teardown(ctx, podDir, nsPath, recs, -1); err != nil {
		return fmt.Errorf("tearing down the network: %w", err)
	}
	return nil
}

// teardown DELs recs last first, then removes the namespace (always: a
// veth dies with it, and DEL without a namespace still releases IPAM
// leases on a retry) and, unless a DEL failed, the state files. The
// failure of recs[forgive] is reported but keeps no state.
func teardown(ctx context.Context, podDir, nsPath string, recs []record, forgive int) error {
	var errs []error
	keep := false
	nsArg := nsPath
	if nsPath != "" {
		if _, err := os.Stat(nsPath); err != nil {
			nsArg = "" // gone (a reboot): plugins still release what is outside it
		}
	}
	cache := filepath.Join(podDir, NetCacheDir)
	for i := len(recs) - 1; i >= 0; i-- {
		r := &recs[i]
		dirs := filepath.SplitList(r.PluginPath)
		if len(dirs) == 0 {
			dirs = DefaultPluginDirs
		}
		if r.InProcess {
			if err := delBuiltin(ctx, r, nsArg, dirs); err != nil {
				errs = append(errs, fmt.Errorf("removing network %q: %w", r.Name, err))
				keep = keep || i != forgive
			}
			continue
		}
		list, err := libcni.NetworkConfFromBytes(r.ConfList)
		if err != nil {
			errs = append(errs, fmt.Errorf("network %q: reading its recorded configuration: %w", r.Name, err))
			continue
		}
		cni := libcni.NewCNIConfigWithCacheDir(dirs, cache, pluginExec)
		if err := cni.DelNetworkList(ctx, list, runtimeConf(r, nsArg)); err != nil {
			errs = append(errs, fmt.Errorf("removing network %q: %w", r.Name, err))
			keep = keep || i != forgive
		}
	}
	if nsPath != "" {
		if err := removeNetNS(nsPath); err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
	if err := os.Remove(filepath.Join(podDir, NetNSFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("removing %s: %w", NetNSFile, err))
	}
	if keep {
		return errors.Join(errs...)
	}
	if err := os.Remove(filepath.Join(podDir, NetInfoFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("removing %s: %w", NetInfoFile, err))
	}
	if err := os.RemoveAll(cache); err != nil {
		errs = append(errs, fmt.Errorf("removing %s: %w", NetCacheDir, err))
	}
	return errors.Join(errs...)
}

func infoOf(nsPath string, recs []record) *Info {
	info := &Info{NetNS: nsPath, Nets: make([]NetInfo, 0, len(recs))}
	for _, r := range recs {
		info.Nets = append(info.Nets, r.NetInfo)
	}
	return info
}

func runtimeConf(r *record, nsPath string) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{
		ContainerID: r.ContainerID,
		NetNS:       nsPath,
		IfName:      r.IfName,
	}
	if r.Args != "" {
		// Plugins that do not know a key refuse it unless told otherwise;
		// rkt's IP= must reach host-local through ptp or bridge.
		if !strings.Contains(";"+r.Args, ";IgnoreUnknown=") {
			rt.Args = append(rt.Args, [2]string{"IgnoreUnknown", "1"})
		}
		for _, pair := range strings.Split(r.Args, ";") {
			k, v, _ := strings.Cut(pair, "=")
			rt.Args = append(rt.Args, [2]string{k, v})
		}
	}
	if len(r.PortMappings) > 0 {
		rt.CapabilityArgs = map[string]any{"portMappings": r.PortMappings}
	}
	return rt
}

// fillResult copies the pod's address on r's interface from a CNI result.
func fillResult(r *record, res types.Result) error {
	cur, err := types100.NewResultFromResult(res)
	if err != nil {
		return fmt.Errorf("reading the plugin's result: %w", err)
	}
	var chosen *types100.IPConfig
	for _, ipc := range cur.IPs {
		if ipc.Interface != nil && *ipc.Interface >= 0 && *ipc.Interface < len(cur.Interfaces) &&
			cur.Interfaces[*ipc.Interface].Sandbox == "" {
			continue // an address on the host side
		}
		if chosen == nil || (chosen.Address.IP.To4() == nil && ipc.Address.IP.To4() != nil) {
			chosen = ipc
		}
	}
	if chosen == nil {
		return errors.New("the plugin returned no address for the pod")
	}
	r.IP = chosen.Address.IP.String()
	r.Mask = net.IP(chosen.Address.Mask).String()
	if chosen.Gateway != nil {
		r.Gateway = chosen.Gateway.String()
		r.HostIP = r.Gateway
	}
	for _, ifc := range cur.Interfaces {
		if ifc.Sandbox == "" {
			r.HostIfName = ifc.Name
			break
		}
	}
	if !cur.DNS.IsEmpty() {
		r.DNS = &DNS{Nameservers: cur.DNS.Nameservers, Domain: cur.DNS.Domain, Search: cur.DNS.Search, Options: cur.DNS.Options}
	}
	return nil
}

func joinArgs(kvs [][2]string) string {
	parts := make([]string, len(kvs))
	for i, kv := range kvs {
		parts[i] = kv[0] + "=" + kv[1]
	}
	return strings.Join(parts, ";")
}

func portMappings(ports []PortForward) ([]portMapping, error) {
	var out []portMapping
	for _, p := range ports {
		proto := strings.ToLower(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return nil, fmt.Errorf("%w: port %q: protocol %q", ErrUsage, p.Name, p.Protocol)
		}
		if p.PodPort == 0 || p.HostPort == 0 {
			return nil, fmt.Errorf("%w: port %q: port 0", ErrUsage, p.Name)
		}
		if p.HostIP != "" && net.ParseIP(p.HostIP) == nil {
			return nil, fmt.Errorf("%w: port %q: host address %q", ErrUsage, p.Name, p.HostIP)
		}
		out = append(out, portMapping{HostPort: int(p.HostPort), ContainerPort: int(p.PodPort), Protocol: proto, HostIP: p.HostIP})
	}
	return out, nil
}

func anyForwardsPorts(nets []*netConf) bool {
	for _, nc := range nets {
		if nc.forwardsPorts() {
			return true
		}
	}
	return false
}

func writeRecords(podDir string, recs []record, durable bool) error {
	b, err := json.Marshal(recs)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", NetInfoFile, err)
	}
	path := filepath.Join(podDir, NetInfoFile)
	if durable {
		err = atomicfile.WriteFile(path, b, 0o644)
	} else {
		err = atomicfile.ReplaceFile(path, b, 0o644)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", NetInfoFile, err)
	}
	return nil
}

func readRecords(podDir string) ([]record, error) {
	b, err := os.ReadFile(filepath.Join(podDir, NetInfoFile))
	if err != nil {
		return nil, err
	}
	var recs []record
	if len(b) == 0 {
		return nil, nil // a crash between create and write: nothing was added
	}
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("reading %s: %w", NetInfoFile, err)
	}
	return recs, nil
}

// pluginExec runs plugins; nil is libcni's default.
var pluginExec invoke.Exec
