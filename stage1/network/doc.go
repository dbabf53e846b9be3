// Package network gives a pod its networks through CNI (libcni and the
// standard plugins), with rkt's --net semantics:
//
//	default             ptp, 172.16.28.0/24 from host-local, default route,
//	                    masqueraded; portmap chained for --port
//	default-restricted  ptp, 172.31.0.0/16, no route out, no masquerade
//	host                the host's namespace: Setup does nothing
//	none                a namespace of its own with only lo (up)
//	all                 every network configured in net.d, then default
//	NAME[:K=V;K=V]      a network from <system-config>/net.d or
//	                    <local-config>/net.d (*.conf, *.conflist; local wins;
//	                    a configured "default" replaces the built-in one),
//	                    with CNI_ARGS K=V;K=V (host-local takes IP=)
//
// Each network is added as eth0, eth1, ... in the order given.
//
// On disk, for a pod that is not on the host network:
//
//	/run/netns/rkt-<uuid>   bind mount of the pod's network namespace; the
//	                        directory is a shared mount point, as iproute2
//	                        makes it, so the unmount reaches mount
//	                        namespaces copied while the pod ran
//	<pod>/netns             that path, one line
//	<pod>/net-info.json     JSON array, one record per network: rkt's keys
//	                        (netName, ifName, ip, mask, args, netConf,
//	                        pluginPath) plus gateway, hostIP, dns,
//	                        containerID, confList (the configuration list
//	                        used, so DEL needs no net.d file) and
//	                        portMappings
//	<pod>/net/              libcni's cache of results (prevResult for DEL)
//
// Invariants:
//   - net-info.json names every network before the first ADD, and is
//     durable by then, so a Teardown after a crash at any point (even a
//     reboot, when host-local leases survive but the namespace does not)
//     finds everything to DEL. The records are rewritten with addresses
//     once every ADD succeeded.
//   - Setup either succeeds or undoes all it did; Teardown is idempotent,
//     and keeps the state files when a DEL fails so it can be retried.
//   - The namespace is made on a throwaway locked OS thread that is never
//     returned to the Go scheduler; no goroutine of the caller changes
//     namespace.
//   - Names of networks are checked against CNI's rules before they are
//     used as file names; plugin types are names, never paths.
//
// Plugins run with the caller's environment: PATH must reach iptables.
package network
