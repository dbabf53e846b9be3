package network

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// These tests run the real CNI plugins as root. They only ever send traffic
// to loopback or to addresses inside namespaces they create.

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and runs CNI plugins")
	}
	for _, p := range []string{"ptp", "host-local", "portmap", "bridge"} {
		found := false
		for _, d := range DefaultPluginDirs {
			if _, err := os.Stat(filepath.Join(d, p)); err == nil {
				found = true
			}
		}
		if !found {
			t.Skipf("CNI plugin %s not installed (Debian: containernetworking-plugins)", p)
		}
	}
	if _, err := exec.LookPath("iptables-save"); err != nil {
		t.Skip("iptables-save not found: the plugins need iptables")
	}
}

type testPod struct {
	uuid string
	dir  string
}

func newPod(t *testing.T) testPod {
	t.Helper()
	p := testPod{uuid: uuid.NewString(), dir: t.TempDir()}
	t.Cleanup(func() {
		if err := Teardown(context.Background(), p.dir); err != nil {
			t.Errorf("cleanup teardown: %v", err)
		}
	})
	return p
}

func (p testPod) config(nets ...string) Config {
	reqs, err := ParseNetFlag(nets)
	if err != nil {
		panic(err)
	}
	return Config{PodUUID: p.uuid, PodDir: p.dir, Nets: reqs}
}

// iptablesLines returns iptables-save's rules and chains (no comments or
// counters), one string per line.
func iptablesLines(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("iptables-save").Output()
	if err != nil {
		t.Fatalf("iptables-save: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, ":") { // ":CHAIN POLICY [packets:bytes]"
			if i := strings.LastIndex(l, " ["); i > 0 {
				l = l[:i]
			}
		}
		lines = append(lines, l)
	}
	return lines
}

// portmapShared tells the scaffolding that the portmap plugin installs
// once per host and shares between all containers (the CNI-HOSTPORT-*
// chains and the jumps to them) from per-pod rules, which carry the pod's
// id or jump to a per-pod CNI-DN- chain.
func portmapShared(l string) bool {
	return strings.Contains(l, "CNI-HOSTPORT-") && !strings.Contains(l, "CNI-DN-") && !strings.Contains(l, `id: \"`)
}

// shared tells the rules installed once per host (portmap's scaffolding,
// the default network's masquerade) from per-pod ones.
func shared(l string) bool {
	return portmapShared(l) || strings.Contains(l, MasqChain)
}

// diffLines compares two iptablesLines results, leaving out portmap's
// shared scaffolding.
func diffLines(before, after []string) (added, removed []string) {
	count := map[string]int{}
	for _, l := range before {
		if !shared(l) {
			count[l]++
		}
	}
	for _, l := range after {
		if !shared(l) {
			count[l]--
		}
	}
	for l, n := range count {
		for ; n > 0; n-- {
			removed = append(removed, l)
		}
		for ; n < 0; n++ {
			added = append(added, l)
		}
	}
	return added, removed
}

var (
	ruleID    = regexp.MustCompile(`id: \\"([^\\"]+)\\"`)
	ruleChain = regexp.MustCompile(`\bCNI-[A-Za-z0-9_-]+`)
)

// othersRules returns a filter for the iptables lines of pods other than
// own that exist on the same host (other tests start pods at the same
// time): lines carrying another pod's id in their comment, and lines of
// the per-pod chains such lines name.
func othersRules(own []string, snapshots ...[]string) func(string) bool {
	mine := map[string]bool{}
	for _, u := range own {
		mine[u] = true
	}
	ids, chains := map[string]bool{}, map[string]bool{}
	for _, lines := range snapshots {
		for _, l := range lines {
			m := ruleID.FindStringSubmatch(l)
			if m == nil || mine[m[1]] {
				continue
			}
			ids[m[1]] = true
			for _, c := range ruleChain.FindAllString(l, -1) {
				if !strings.HasPrefix(c, "CNI-HOSTPORT-") {
					chains[c] = true
				}
			}
		}
	}
	return func(l string) bool {
		if m := ruleID.FindStringSubmatch(l); m != nil && ids[m[1]] {
			return true
		}
		for _, c := range ruleChain.FindAllString(l, -1) {
			if chains[c] {
				return true
			}
		}
		return false
	}
}

// assertRulesBack checks that iptables holds the rules of before again,
// as far as the pods own (the test's) and the host's own rules go: rules
// of other pods coming and going meanwhile are left out. A chain another
// pod's setup has made but not yet jumped to looks like anybody's, so a
// difference is looked at again for a moment before it counts.
func assertRulesBack(t *testing.T, before []string, own ...string) {
	t.Helper()
	var added, removed []string
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		after := iptablesLines(t)
		others := othersRules(own, before, after)
		added, removed = nil, nil
		a, r := diffLines(before, after)
		for _, l := range a {
			if !others(l) {
				added = append(added, l)
			}
		}
		for _, l := range r {
			if !others(l) {
				removed = append(removed, l)
			}
		}
		if len(added)+len(removed) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(added)+len(removed) > 0 {
		t.Errorf("iptables changed: added %q, removed %q", added, removed)
	}
}

// routes reads the IPv4 routing table of the calling thread's namespace.
func routes() ([]string, error) {
	f, err := os.Open("/proc/thread-self/net/route")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	s.Scan() // header
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 {
			out = append(out, fields[0]+" "+fields[1]) // iface, destination (hex)
		}
	}
	return out, s.Err()
}

func hasDefaultRoute(rs []string) bool {
	for _, r := range rs {
		if strings.HasSuffix(r, " 00000000") {
			return true
		}
	}
	return false
}

func linkNames() (map[string]bool, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, i := range ifs {
		m[i.Name] = true
	}
	return m, nil
}

func leasePath(net, ip string) string {
	return filepath.Join("/var/lib/cni/networks", net, ip)
}

// assertGone checks that nothing of a torn-down pod is left.
func assertGone(t *testing.T, p testPod, recs []record) {
	t.Helper()
	if _, err := os.Lstat(NetNSPath(p.uuid)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace %s still there: %v", NetNSPath(p.uuid), err)
	}
	for _, f := range []string{NetInfoFile, NetNSFile, NetCacheDir} {
		if _, err := os.Lstat(filepath.Join(p.dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still in the pod dir: %v", f, err)
		}
	}
	links, err := linkNames()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.IP != "" {
			if _, err := os.Stat(leasePath(r.Name, r.IP)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("lease %s still there: %v", leasePath(r.Name, r.IP), err)
			}
		}
		if r.HostIfName != "" && links[r.HostIfName] && r.Name != "rkttestbr" {
			t.Errorf("host link %s still there", r.HostIfName)
		}
	}
	out, err := exec.Command("iptables-save").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), p.uuid) {
		t.Errorf("iptables still mention pod %s", p.uuid)
	}
}

func TestSetupDefault(t *testing.T) {
	needRoot(t)
	before := iptablesLines(t)
	p := newPod(t)
	cfg := p.config("default")
	const podPort = 8080
	hostPort := freePort(t)
	cfg.Ports = []PortForward{{Name: "http", Protocol: "tcp", PodPort: podPort, HostPort: hostPort}}

	start := time.Now()
	info, err := Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Setup(default): %v", time.Since(start))

	if info.NetNS != NetNSPath(p.uuid) || len(info.Nets) != 1 {
		t.Fatalf("info = %+v", info)
	}
	n := info.Nets[0]
	_, subnet, _ := net.ParseCIDR("172.16.28.0/24")
	ip := net.ParseIP(n.IP)
	if n.Name != "default" || n.IfName != "eth0" || ip == nil || !subnet.Contains(ip) ||
		n.Mask != "255.255.255.0" || n.Gateway == "" || n.HostIP != n.Gateway {
		t.Errorf("net = %+v", n)
	}
	// rkt 1.30 wrote the path alone, without a newline.
	if b, err := os.ReadFile(filepath.Join(p.dir, NetNSFile)); err != nil || string(b) != info.NetNS {
		t.Errorf("netns file = %q, %v", b, err)
	}
	loaded, err := Load(p.dir)
	if err != nil || loaded.NetNS != info.NetNS || len(loaded.Nets) != 1 || loaded.Nets[0] != n {
		t.Errorf("Load = %+v, %v; want %+v", loaded, err, info)
	}
	if _, err := os.Stat(leasePath("default", n.IP)); err != nil {
		t.Errorf("no host-local lease: %v", err)
	}

	// Inside: eth0 with the address, a default route, lo up.
	err = InNetNS(info.NetNS, func() error {
		eth0, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		addrs, _ := eth0.Addrs()
		if len(addrs) == 0 || !strings.HasPrefix(addrs[0].String(), n.IP+"/") {
			return fmt.Errorf("eth0 addresses %v, want %s", addrs, n.IP)
		}
		lo, err := net.InterfaceByName("lo")
		if err != nil || lo.Flags&net.FlagUp == 0 {
			return fmt.Errorf("lo not up: %v %v", lo, err)
		}
		rs, err := routes()
		if err != nil {
			return err
		}
		if !hasDefaultRoute(rs) {
			return fmt.Errorf("no default route: %v", rs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The pod reaches the host at the gateway over ptp.
	hostAddr := hostEcho(t, n.HostIP)
	err = InNetNS(info.NetNS, func() error {
		return echo(hostAddr, "from the pod")
	})
	if err != nil {
		t.Errorf("pod -> host: %v", err)
	}

	// A forwarded port on the host's end of the link reaches the pod.
	var podL net.Listener
	err = InNetNS(info.NetNS, func() error {
		var err error
		podL, err = net.Listen("tcp", fmt.Sprintf(":%d", podPort))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer podL.Close()
	go serveEcho(podL)
	if err := echo(net.JoinHostPort(n.HostIP, fmt.Sprint(hostPort)), "from the host"); err != nil {
		t.Errorf("host -> forwarded port: %v", err)
	}

	recs, err := readRecords(p.dir)
	if err != nil {
		t.Fatal(err)
	}
	if recs[0].HostIfName == "" {
		t.Error("no host link recorded")
	}
	start = time.Now()
	if err := Teardown(context.Background(), p.dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("Teardown(default): %v", time.Since(start))
	assertGone(t, p, recs)
	assertRulesBack(t, before, p.uuid)
	if err := Teardown(context.Background(), p.dir); err != nil {
		t.Errorf("second teardown: %v", err)
	}
	if _, err := Load(p.dir); !errors.Is(err, ErrNoNetwork) {
		t.Errorf("Load after teardown: %v, want ErrNoNetwork", err)
	}
}

func TestSetupDefaultRestricted(t *testing.T) {
	needRoot(t)
	p := newPod(t)
	info, err := Setup(context.Background(), p.config("default-restricted"))
	if err != nil {
		t.Fatal(err)
	}
	_, subnet, _ := net.ParseCIDR("172.31.0.0/16")
	n := info.Nets[0]
	if !subnet.Contains(net.ParseIP(n.IP)) {
		t.Errorf("ip %s not in %s", n.IP, subnet)
	}
	hostAddr := hostEcho(t, n.HostIP)
	err = InNetNS(info.NetNS, func() error {
		rs, err := routes()
		if err != nil {
			return err
		}
		if hasDefaultRoute(rs) {
			return fmt.Errorf("default route in a restricted pod: %v", rs)
		}
		// No route: the kernel refuses at once, nothing is sent.
		_, err = net.DialTimeout("tcp", "192.0.2.1:80", time.Second)
		if !errors.Is(err, syscall.ENETUNREACH) {
			return fmt.Errorf("dialing out: %v, want ENETUNREACH", err)
		}
		// The host is still reachable.
		return echo(hostAddr, "restricted")
	})
	if err != nil {
		t.Error(err)
	}
	out, err := exec.Command("iptables-save", "-t", "nat").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), p.uuid) {
		t.Error("a restricted pod is masqueraded")
	}
}

func TestSetupNone(t *testing.T) {
	needRoot(t)
	p := newPod(t)
	info, err := Setup(context.Background(), p.config("none"))
	if err != nil {
		t.Fatal(err)
	}
	if info.NetNS == "" || len(info.Nets) != 0 {
		t.Fatalf("info = %+v", info)
	}
	err = InNetNS(info.NetNS, func() error {
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		if len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].Flags&net.FlagUp == 0 {
			return fmt.Errorf("interfaces %+v, want lo up only", ifs)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer l.Close()
		go serveEcho(l)
		return echo(l.Addr().String(), "loopback")
	})
	if err != nil {
		t.Error(err)
	}
	teardownGone(t, p, nil)
}

func TestSetupHost(t *testing.T) {
	needRoot(t)
	p := newPod(t)
	info, err := Setup(context.Background(), p.config("host"))
	if err != nil {
		t.Fatal(err)
	}
	if info.NetNS != "" || len(info.Nets) != 0 {
		t.Errorf("info = %+v", info)
	}
	ents, _ := os.ReadDir(p.dir)
	if len(ents) != 0 {
		t.Errorf("host networking wrote %v", ents)
	}
	if _, err := os.Lstat(NetNSPath(p.uuid)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("host networking made a namespace: %v", err)
	}
}

func TestSetupNamedBridge(t *testing.T) {
	needRoot(t)
	const bridge = "rkttestbr0"
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", bridge).Run()
		os.RemoveAll("/var/lib/cni/networks/rkttestbr") // host-local's lock and cursor
	})
	local := t.TempDir()
	writeConf(t, local, "10-rkttestbr.conf", `{"name":"rkttestbr","type":"bridge","bridge":"`+bridge+`","isGateway":true,
		"ipam":{"type":"host-local","subnet":"10.233.71.0/24"}}`)
	p := newPod(t)
	cfg := p.config("rkttestbr:IP=10.233.71.42", "default")
	cfg.LocalConfig = local
	info, err := Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Nets) != 2 {
		t.Fatalf("nets = %+v", info.Nets)
	}
	br, def := info.Nets[0], info.Nets[1]
	if br.Name != "rkttestbr" || br.IfName != "eth0" || br.IP != "10.233.71.42" || br.Args != "IP=10.233.71.42" || br.Gateway != "10.233.71.1" {
		t.Errorf("bridge net = %+v", br)
	}
	if def.Name != "default" || def.IfName != "eth1" {
		t.Errorf("default net = %+v", def)
	}
	hostAddr := hostEcho(t, br.Gateway)
	if err := InNetNS(info.NetNS, func() error { return echo(hostAddr, "bridge") }); err != nil {
		t.Errorf("pod -> bridge: %v", err)
	}
	recs, _ := readRecords(p.dir)
	teardownGone(t, p, recs)
}

func TestSetupFailureUndoes(t *testing.T) {
	needRoot(t)
	before := iptablesLines(t)
	local := t.TempDir()
	writeConf(t, local, "broken.conf", `{"name":"broken","type":"no-such-cni-plugin"}`)
	p := newPod(t)
	cfg := p.config("default", "broken")
	cfg.LocalConfig = local
	leases := func() []string {
		ents, _ := os.ReadDir("/var/lib/cni/networks/default")
		var out []string
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join("/var/lib/cni/networks/default", e.Name()))
			if strings.Contains(string(b), p.uuid) {
				out = append(out, e.Name())
			}
		}
		return out
	}
	_, err := Setup(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), `"broken"`) {
		t.Fatalf("Setup = %v, want an error about network broken", err)
	}
	assertGone(t, p, nil)
	if l := leases(); len(l) > 0 {
		t.Errorf("leases left for the pod: %v", l)
	}
	assertRulesBack(t, before, p.uuid)
}

func TestSetupRefusesUnknownAndBadInput(t *testing.T) {
	needRoot(t)
	p := newPod(t)
	if _, err := Setup(context.Background(), p.config("nosuchnet")); !errors.Is(err, ErrUnknownNetwork) {
		t.Errorf("unknown net: %v", err)
	}
	cfg := p.config("default")
	cfg.Ports = []PortForward{{Name: "x", Protocol: "icmp", PodPort: 1, HostPort: 1}}
	if _, err := Setup(context.Background(), cfg); !errors.Is(err, ErrUsage) {
		t.Errorf("bad port: %v", err)
	}
	cfg = p.config("none")
	cfg.Ports = []PortForward{{Name: "x", PodPort: 1, HostPort: 1}}
	if _, err := Setup(context.Background(), cfg); !errors.Is(err, ErrUsage) {
		t.Errorf("port without a forwarding network: %v", err)
	}
	if _, err := os.Lstat(NetNSPath(p.uuid)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused setup left a namespace: %v", err)
	}
	cfg = p.config("none")
	cfg.PodUUID = "../x"
	if _, err := Setup(context.Background(), cfg); err == nil {
		t.Error("Setup accepted a bad UUID")
	}
}

func TestSetupTwiceRefused(t *testing.T) {
	needRoot(t)
	p := newPod(t)
	if _, err := Setup(context.Background(), p.config("none")); err != nil {
		t.Fatal(err)
	}
	if _, err := Setup(context.Background(), p.config("none")); !errors.Is(err, ErrNetNSExists) {
		t.Errorf("second Setup: %v, want ErrNetNSExists", err)
	}
	// The refusal must not have torn down the first setup.
	if _, err := os.Stat(NetNSPath(p.uuid)); err != nil {
		t.Errorf("namespace gone after a refused second setup: %v", err)
	}
}

func TestTeardownHalfSetup(t *testing.T) {
	needRoot(t)
	before := iptablesLines(t)
	p := newPod(t)
	if _, err := Setup(context.Background(), p.config("default")); err != nil {
		t.Fatal(err)
	}
	recs, _ := readRecords(p.dir)
	// As after a crash during the ADD: only the records written before it
	// (no results) are there, and no netns file.
	pending := make([]record, len(recs))
	for i, r := range recs {
		pending[i] = record{NetInfo: NetInfo{Name: r.Name, IfName: r.IfName}, ConfSource: r.ConfSource,
			PluginPath: r.PluginPath, ContainerID: r.ContainerID, ConfList: r.ConfList, InProcess: r.InProcess}
	}
	if err := writeRecords(p.dir, pending, true); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(p.dir, NetNSFile))
	teardownGone(t, p, recs)
	assertRulesBack(t, before, p.uuid)

	// Nothing at all: fine.
	if err := Teardown(context.Background(), t.TempDir()); err != nil {
		t.Errorf("teardown of an empty dir: %v", err)
	}
}

func TestSetupTeardownRepeated(t *testing.T) {
	needRoot(t)
	before := iptablesLines(t)
	var uuids, hostLinks []string
	var setupTotal, teardownTotal time.Duration
	const n = 20
	for i := 0; i < n; i++ {
		p := testPod{uuid: uuid.NewString(), dir: t.TempDir()}
		cfg := p.config("default")
		cfg.Ports = []PortForward{{Name: "p", PodPort: 80, HostPort: 40080}}
		t0 := time.Now()
		if _, err := Setup(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		recs, _ := readRecords(p.dir)
		uuids = append(uuids, p.uuid)
		for _, r := range recs {
			hostLinks = append(hostLinks, r.HostIfName)
		}
		if err := Teardown(context.Background(), p.dir); err != nil {
			t.Fatal(err)
		}
		setupTotal += t1.Sub(t0)
		teardownTotal += time.Since(t1)
		assertGone(t, p, recs)
	}
	t.Logf("default network, mean of %d: Setup %v, Teardown %v", n, setupTotal/n, teardownTotal/n)
	assertRulesBack(t, before, uuids...)
	// Only the pods' own host links are looked for: other pods may come
	// and go on the host meanwhile.
	links, _ := linkNames()
	for _, l := range hostLinks {
		if links[l] {
			t.Errorf("link %s left behind", l)
		}
	}
}

// teardownGone tears pod p down and checks that nothing of it is left.
func teardownGone(t *testing.T, p testPod, recs []record) {
	t.Helper()
	if err := Teardown(context.Background(), p.dir); err != nil {
		t.Fatal(err)
	}
	assertGone(t, p, recs)
}

// hostEcho serves echo on the host at ip until the test ends and returns
// its address.
func hostEcho(t *testing.T, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go serveEcho(l)
	return l.Addr().String()
}

func freePort(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

func serveEcho(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.Copy(c, c)
		}()
	}
}

func echo(addr, msg string) error {
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	if string(b) != msg {
		return fmt.Errorf("echo from %s = %q, want %q", addr, b, msg)
	}
	return nil
}

// TestRulesCheckScopedToOwnPods: the rules of a pod set up by somebody
// else between the two snapshots (with the plugins: per-pod chains and
// port forwards) are all told apart as another pod's, and are not when
// the pod is the test's own.
func TestRulesCheckScopedToOwnPods(t *testing.T) {
	needRoot(t)
	before := iptablesLines(t)
	withPlugins(t)
	other := newPod(t)
	cfg := other.config("default")
	cfg.Ports = []PortForward{{Name: "p", PodPort: 80, HostPort: 40081}}
	if _, err := Setup(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	after := iptablesLines(t)
	added, _ := diffLines(before, after)
	if !slices.ContainsFunc(added, func(l string) bool { return strings.Contains(l, other.uuid) }) {
		t.Fatalf("no rule of the pod among the added ones: %q", added)
	}
	others := othersRules(nil, before, after)
	mine := othersRules([]string{other.uuid}, before, after)
	for _, l := range added {
		if !others(l) {
			t.Errorf("rule not told apart as another pod's: %s", l)
		}
		if strings.Contains(l, other.uuid) && mine(l) {
			t.Errorf("the test's own rule taken for another pod's: %s", l)
		}
	}
}
