package main

import (
	"net"
	"strings"

	"github.com/rkt/rkt/common/netspec"
	podrun "github.com/rkt/rkt/stage0/run"
	"github.com/spf13/cobra"
)

func newRunPreparedCmd(g *globalFlags) *cobra.Command {
	var (
		rt           podrun.RunOverrides
		nets         []string
		hostsEntries []string
	)
	cmd := &cobra.Command{
		Use:   "run-prepared UUID",
		Short: "Run a prepared application pod in rkt",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := ensureSuperuser(); err != nil {
				return err
			}
			for _, n := range nets {
				for _, s := range strings.Split(n, ",") {
					if s = strings.TrimSpace(s); s != "" {
						rt.Net = append(rt.Net, s)
					}
				}
			}
			if len(rt.Net) > 0 {
				if _, err := netspec.ParseNetFlag(rt.Net); err != nil {
					return usagef("--net=%s: %w", strings.Join(rt.Net, ","), err)
				}
			}
			for _, e := range hostsEntries {
				if rt.HostsEntries == nil {
					rt.HostsEntries = map[string][]string{}
				}
				if e == "host" {
					rt.HostsEntries["host"] = nil
					continue
				}
				ip, names, ok := strings.Cut(e, "=")
				if !ok || net.ParseIP(ip) == nil || names == "" {
					return usagef("--hosts-entry=%q: want IP=HOSTNAME or host", e)
				}
				rt.HostsEntries[ip] = append(rt.HostsEntries[ip], strings.Split(names, ",")...)
			}
			switch rt.IPC {
			case "", "auto", "private", "parent":
			default:
				return usagef("invalid --ipc %q (want auto, private or parent)", rt.IPC)
			}
			cfg, err := g.podConfig(cmd)
			if err != nil {
				return err
			}
			return planUsage(podrun.RunPrepared(cmd.Context(), cfg, args[0], rt))
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&nets, "net", nil, "configure the pod's networking: default, default-restricted, host, none, all, or net.d networks NAME[:K=V;...], comma-separated (default: as prepared)")
	fl.Lookup("net").NoOptDefVal = "default"
	fl.StringSliceVar(&rt.DNS, "dns", nil, "name servers to write in /etc/resolv.conf (IP, host or none)")
	fl.StringSliceVar(&rt.DNSSearch, "dns-search", nil, "DNS search domains to write in /etc/resolv.conf")
	fl.StringSliceVar(&rt.DNSOpt, "dns-opt", nil, "DNS options to write in /etc/resolv.conf")
	fl.StringVar(&rt.DNSDomain, "dns-domain", "", "DNS domain to write in /etc/resolv.conf")
	fl.StringArrayVar(&hostsEntries, "hosts-entry", nil, "entries to add to the pod-wide /etc/hosts: IP=HOSTNAME, or host to use the host's")
	fl.StringVar(&rt.Hostname, "hostname", "", `pod's hostname (default "rkt-$PODUUID")`)
	fl.BoolVar(&rt.Interactive, "interactive", false, "run pod interactively")
	fl.BoolVar(&rt.MDSRegister, "mds-register", false, "register pod with metadata service")
	fl.StringVar(&rt.IPC, "ipc", "", "IPC namespace: auto, private or parent")
	return cmd
}
