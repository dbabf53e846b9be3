package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/entrypoint"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage1/network"
)

// systemConfigDir is rkt's system configuration directory; its net.d is
// read after the local one (--local-config).
const systemConfigDir = network.SystemConfigDir

// podNetwork is the network a pod was given by /init.
type podNetwork struct {
	pod  string
	host bool
	info *network.Info
}

// netRequests are the pod's --net values: runtime-config first (stage0
// writes it), else the run arguments.
func netRequests(ra entrypoint.RunArgs, rc *podlayout.RuntimeConfig) ([]network.NetRequest, error) {
	nets := rc.NetList
	if len(nets) == 0 {
		nets = ra.Net
	}
	reqs, err := network.ParseNetFlag(nets)
	if err != nil {
		return nil, fmt.Errorf("setting up the pod's network: %w", err)
	}
	return reqs, nil
}

// setupNetwork gives the pod its networks through CNI and returns the
// path of the namespace made for them ("" for host networking, which
// shares the host's).
func setupNetwork(ctx context.Context, pod, uuid string, ra entrypoint.RunArgs, rc *podlayout.RuntimeConfig, reqs []network.NetRequest, debug bool) (*podNetwork, string, error) {
	if network.IsHost(reqs) {
		return &podNetwork{pod: pod, host: true}, "", nil
	}
	ports := make([]network.PortForward, 0, len(rc.Ports))
	for _, p := range rc.Ports {
		ports = append(ports, network.PortForward{Name: p.Name, Protocol: p.Protocol,
			PodPort: p.PodPort, HostIP: p.HostIP, HostPort: p.HostPort})
	}
	cfg := network.Config{
		PodUUID:      uuid,
		PodDir:       pod,
		LocalConfig:  ra.LocalConfig,
		SystemConfig: systemConfigDir,
		Nets:         reqs,
		Ports:        ports,
		Log:          netLogger(debug),
	}
	info, err := network.Setup(ctx, cfg)
	if err != nil {
		return nil, "", fmt.Errorf("setting up the pod's network: %w", err)
	}
	return &podNetwork{pod: pod, info: info}, info.NetNS, nil
}

// pointMetadataURL makes AC_METADATA_URL reachable from a pod on its own
// network: stage0 registered the pod before the network existed, with the
// host's loopback address, which inside the pod's namespace is the pod's
// own. As rkt 1.30 did, the URL names the host's address on the pod's
// first network instead (the host end of its ptp link, its bridge), where
// `rkt metadata-service` listens too. The in-pod copy of the runtime
// configuration, which the supervisor and enter read, is rewritten.
func (pn *podNetwork) pointMetadataURL(pod string, rc *podlayout.RuntimeConfig) error {
	if pn == nil || pn.host || pn.info == nil || rc.MetadataServiceURL == "" {
		return nil
	}
	u, changed, err := metadataURLOn(rc.MetadataServiceURL, pn.info.Nets)
	if err != nil || !changed {
		return err
	}
	rc.MetadataServiceURL = u
	if err := rc.Write(podlayout.InPodRuntimeConfigPath(pod)); err != nil {
		return fmt.Errorf("pointing the pod at the metadata service: %w", err)
	}
	return nil
}

// metadataURLOn is raw with its host replaced by the host's address on
// the first of nets that has one; unchanged when none has.
func metadataURLOn(raw string, nets []network.NetInfo) (string, bool, error) {
	for _, n := range nets {
		if n.HostIP == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil {
			return "", false, fmt.Errorf("pointing the pod at the metadata service: %w", err)
		}
		u.Host = net.JoinHostPort(n.HostIP, u.Port())
		return u.String(), true, nil
	}
	return raw, false, nil
}

// joinNetNS moves the calling thread into the network namespace at path;
// the caller has locked the thread and execs from it. This is how nspawn
// gets a pod's namespace with --private-users: nspawn joins the one named
// by --network-namespace-path from inside the pod's user namespace, which
// does not own it, and is refused.
func joinNetNS(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening the pod's network namespace: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("joining the pod's network namespace %s: %w", path, err)
	}
	return nil
}

// teardown undoes setupNetwork after a failed start.
func (pn *podNetwork) teardown(ctx context.Context) {
	if pn == nil || pn.host {
		return
	}
	if err := network.Teardown(ctx, pn.pod); err != nil {
		fmt.Fprintf(os.Stderr, "stage1: tearing down the pod's network: %v\n", err)
	}
}

// netLogger shows warnings on the pod's stderr, and everything with
// --debug.
func netLogger(debug bool) *slog.Logger {
	level := slog.LevelWarn
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
