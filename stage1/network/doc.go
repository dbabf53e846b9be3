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
// The built-in default and default-restricted networks are added in
// process, with the plugins module's libraries (pkg/ip, pkg/ipam, the
// host-local allocator and lease store), not by exec'ing ptp, host-local
// and iptables: the same veth pair (host end veth<8 hex digits>, the
// gateway's address as a /32 on it and a /32 route to the pod), the same
// routes in the pod (a default route for default, none out of the subnet
// for default-restricted) and the same leases in
// /var/lib/cni/networks/<net>, under host-local's lock, so pods added
// either way share the address space. Only portmap is still exec'd, when
// ports are forwarded. A network configured in net.d, even one named
// default, goes through libcni and its plugins.
//
// Masquerade of the default network is one rule set per subnet shared by
// all its pods, never removed by Teardown:
//
//	nat POSTROUTING -s 172.16.28.0/24 -m comment --comment "rkt: masquerade default" -j RKT-DEFAULT-MASQ
//	nat RKT-DEFAULT-MASQ: -d 172.16.28.0/24 RETURN, -d 224.0.0.0/4 RETURN, MASQUERADE
//
// The first Setup of a boot looks for the jump (iptables -C) and installs
// the set if missing (one iptables-restore --noflush), under a lock, then
// writes the marker /run/rkt/net-masq-default-<netns cookie>; later Setups
// in that network namespace only read the marker. Whoever flushes the nat table must remove the marker too
// (RemoveMasquerade does both), or the default network has no way out
// until the next boot.
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
//	<pod>/net/              libcni's cache of results (prevResult for DEL);
//	                        not used by the in-process networks, whose
//	                        records say inProcess: true
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
//     namespace. The in-process networks enter it through pkg/ns, on a
//     locked thread of a goroutine of its own that goes back to the
//     scheduler only once it is back in the host's namespace.
//   - Names of networks are checked against CNI's rules before they are
//     used as file names; plugin types are names, never paths.
//
// Plugins run with the caller's environment: PATH must reach iptables
// (for the first default pod of a boot, and for the plugins).
package network
