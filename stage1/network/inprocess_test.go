package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/vishvananda/netlink"
)

// withPlugins makes the tests of a function add the built-in networks by
// exec'ing ptp and host-local, as before the in-process path.
func withPlugins(t *testing.T) {
	t.Helper()
	inProcessBuiltins = false
	t.Cleanup(func() { inProcessBuiltins = true })
}

// observed is what a user can see of a pod's built-in network, with the
// parts that differ from pod to pod (address, veth name) abstracted.
type observed struct {
	record     record   // net-info.json, without the varying fields
	lease      string   // content of the host-local lease file, pod UUID as UUID
	podAddrs   []string // on eth0, pod address as POD
	podRoutes  []string // pod address as POD
	hostAddrs  []string // on the host end of the link
	hostRoutes []string // via the host end, pod address as POD
	hostUp     bool
}

var vethName = regexp.MustCompile(`^veth[0-9a-f]{8}$`)

func observe(t *testing.T, p testPod) observed {
	t.Helper()
	recs, err := readRecords(p.dir)
	if err != nil || len(recs) != 1 {
		t.Fatalf("records = %+v, %v", recs, err)
	}
	r := recs[0]
	var o observed
	pod := r.IP
	if !vethName.MatchString(r.HostIfName) {
		t.Errorf("host link %q is not named as ptp names it", r.HostIfName)
	}
	lease := leasePath(r.Name, r.IP)
	b, err := os.ReadFile(lease)
	if err != nil {
		t.Fatalf("reading the lease: %v", err)
	}
	o.lease = strings.ReplaceAll(string(b), p.uuid, "UUID")
	abstract := func(s string) string { return strings.ReplaceAll(s, pod, "POD") }
	err = InNetNS(NetNSPath(p.uuid), func() error {
		l, err := netlink.LinkByName(r.IfName)
		if err != nil {
			return err
		}
		if l.Type() != "veth" || l.Attrs().Flags&net.FlagUp == 0 {
			return fmt.Errorf("%s: type %s, flags %v", r.IfName, l.Type(), l.Attrs().Flags)
		}
		addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			o.podAddrs = append(o.podAddrs, abstract(a.IPNet.String()))
		}
		rs, err := netlink.RouteList(nil, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, rt := range rs {
			o.podRoutes = append(o.podRoutes, abstract(fmt.Sprintf("dst=%v gw=%v src=%v scope=%v", rt.Dst, rt.Gw, rt.Src, rt.Scope)))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("inside the pod: %v", err)
	}
	hl, err := netlink.LinkByName(r.HostIfName)
	if err != nil {
		t.Fatalf("host link: %v", err)
	}
	o.hostUp = hl.Attrs().Flags&net.FlagUp != 0
	addrs, _ := netlink.AddrList(hl, netlink.FAMILY_V4)
	for _, a := range addrs {
		o.hostAddrs = append(o.hostAddrs, a.IPNet.String())
	}
	rs, _ := netlink.RouteList(hl, netlink.FAMILY_V4)
	for _, rt := range rs {
		if rt.Dst != nil && rt.Dst.IP.Equal(net.ParseIP(pod)) {
			o.hostRoutes = append(o.hostRoutes, abstract(fmt.Sprintf("dst=%v gw=%v scope=%v", rt.Dst, rt.Gw, rt.Scope)))
		}
	}
	sort.Strings(o.podRoutes)
	r.IP, r.HostIfName, r.ContainerID, r.InProcess = "", "", "", false
	o.record = r
	return o
}

// TestInProcessMatchesPlugins sets up the built-in networks both ways and
// compares what a user sees: net-info.json, leases, addresses and routes
// on both ends of the link.
func TestInProcessMatchesPlugins(t *testing.T) {
	needRoot(t)
	for _, netName := range []string{"default", "default-restricted"} {
		t.Run(netName, func(t *testing.T) {
			var got [2]observed
			for i, plugins := range []bool{false, true} {
				if plugins {
					withPlugins(t)
				}
				p := newPod(t)
				if _, err := Setup(context.Background(), p.config(netName)); err != nil {
					t.Fatal(err)
				}
				recs, _ := readRecords(p.dir)
				if recs[0].InProcess == plugins {
					t.Errorf("inProcess = %v with plugins %v", recs[0].InProcess, plugins)
				}
				got[i] = observe(t, p)
				if want := "UUID\r\neth0"; got[i].lease != want {
					t.Errorf("lease = %q, want %q", got[i].lease, want)
				}
			}
			in, pl := got[0], got[1]
			if fmt.Sprintf("%+v", in) != fmt.Sprintf("%+v", pl) {
				t.Errorf("in process:\n%+v\nplugins:\n%+v", in, pl)
			}
			if !in.hostUp || len(in.hostAddrs) != 1 || !strings.HasSuffix(in.hostAddrs[0], "/32") ||
				len(in.hostRoutes) != 1 || len(in.podAddrs) != 1 {
				t.Errorf("in process: %+v", in)
			}
		})
	}
}

// TestTeardownOfPluginSetup tears down, with the in-process path on, a pod
// whose default network the plugins added (state left by an older
// version): the plugins undo it.
func TestTeardownOfPluginSetup(t *testing.T) {
	needRoot(t)
	before := iptablesLines(t)
	withPlugins(t)
	p := newPod(t)
	if _, err := Setup(context.Background(), p.config("default")); err != nil {
		t.Fatal(err)
	}
	inProcessBuiltins = true
	recs, _ := readRecords(p.dir)
	teardownGone(t, p, recs)
	assertRulesBack(t, before, p.uuid)
}

// TestInProcessRequestedIP: --net=default:IP=... gets that address, one
// outside the network fails and leaves nothing behind.
func TestInProcessRequestedIP(t *testing.T) {
	needRoot(t)
	p := newPod(t)
	info, err := Setup(context.Background(), p.config("default:IP=172.16.28.250"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Nets[0].IP != "172.16.28.250" || info.Nets[0].Args != "IP=172.16.28.250" {
		t.Errorf("net = %+v", info.Nets[0])
	}
	if err := Teardown(context.Background(), p.dir); err != nil {
		t.Fatal(err)
	}

	q := newPod(t)
	_, err = Setup(context.Background(), q.config("default:IP=10.99.0.5"))
	if err == nil || !strings.Contains(err.Error(), "10.99.0.5") {
		t.Fatalf("Setup with an address outside the network = %v", err)
	}
	assertGone(t, q, nil)
	ents, _ := os.ReadDir("/var/lib/cni/networks/default")
	for _, e := range ents {
		if b, _ := os.ReadFile(filepath.Join("/var/lib/cni/networks/default", e.Name())); strings.Contains(string(b), q.uuid) {
			t.Errorf("lease %s left for the failed pod", e.Name())
		}
	}
	// The failed pod's host link would carry the host's route to its
	// address (other pods' links may come and go meanwhile; its veth
	// itself goes with its namespace, which assertGone looks for).
	rs, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Dst != nil && r.Dst.IP.Equal(net.ParseIP("10.99.0.5")) {
			t.Errorf("host route to the failed pod's address left: %v", r)
		}
	}
}

// masqJumps counts the jumps to the shared chain for the default subnet.
func masqJumps(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("iptables", "-w", "-t", "nat", "-S", "POSTROUTING").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(out), "-s 172.16.28.0/24 -m comment --comment \"rkt: masquerade default\" -j "+MasqChain)
}

// TestMasqueradeInstalledOnce removes the shared rules, then starts pods
// at the same time: the rules are installed once; with the marker there,
// Setup runs no iptables at all (PATH without it); with the marker gone
// and the rules there, they are not added again.
func TestMasqueradeInstalledOnce(t *testing.T) {
	needRoot(t)
	if err := RemoveMasquerade(context.Background(), "default", "172.16.28.0/24"); err != nil {
		t.Fatal(err)
	}
	if n := masqJumps(t); n != 0 {
		t.Fatalf("%d jumps left after RemoveMasquerade", n)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		p := newPod(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Setup(context.Background(), p.config("default"))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := masqJumps(t); n != 1 {
		t.Errorf("%d jumps after concurrent setups, want 1", n)
	}
	if b, err := os.ReadFile(MasqMarker("default")); err != nil || strings.TrimSpace(string(b)) != "172.16.28.0/24" {
		t.Errorf("marker = %q, %v", b, err)
	}

	t.Run("marker", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		p := newPod(t)
		if _, err := Setup(context.Background(), p.config("default")); err != nil {
			t.Errorf("Setup with the marker and no iptables in PATH: %v", err)
		}
	})
	t.Run("no marker", func(t *testing.T) {
		os.Remove(MasqMarker("default"))
		p := newPod(t)
		if _, err := Setup(context.Background(), p.config("default")); err != nil {
			t.Fatal(err)
		}
		if n := masqJumps(t); n != 1 {
			t.Errorf("%d jumps, want 1", n)
		}
		if _, err := os.Stat(MasqMarker("default")); err != nil {
			t.Errorf("marker not written again: %v", err)
		}
	})
}

// extHost is an outside host in a namespace of its own, linked to the host
// by a veth pair on 198.18.0.0/30 (a benchmarking range). It has no route
// to the pod subnets: a pod's connection is answered only if it was
// masqueraded to the host's address.
type extHost struct {
	ns   string
	addr string
}

func newExtHost(t *testing.T) extHost {
	t.Helper()
	id := uuid.NewString()[:8]
	e := extHost{ns: filepath.Join(NetNSDir, "rkttest-ext-"+id), addr: "198.18.0.2"}
	hostName, nsName := "rktx"+id[:6], "rktxp"+id[:6]
	if err := createNetNS(e.ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(hostName); err == nil {
			netlink.LinkDel(l)
		}
		removeNetNS(e.ns)
	})
	f, err := os.Open(e.ns)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = hostName
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: nsName, PeerNamespace: netlink.NsFd(int(f.Fd()))}); err != nil {
		t.Fatal(err)
	}
	hl, err := netlink.LinkByName(hostName)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := netlink.ParseAddr("198.18.0.1/30")
	if err := netlink.AddrAdd(hl, a); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(hl); err != nil {
		t.Fatal(err)
	}
	err = InNetNS(e.ns, func() error {
		l, err := netlink.LinkByName(nsName)
		if err != nil {
			return err
		}
		a, _ := netlink.ParseAddr(e.addr + "/30")
		if err := netlink.AddrAdd(l, a); err != nil {
			return err
		}
		return netlink.LinkSetUp(l)
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// peerOf listens in the outside host and returns its address and a channel
// that gets the source address of the first connection.
func (e extHost) listen(t *testing.T) (string, <-chan string) {
	t.Helper()
	var l net.Listener
	err := InNetNS(e.ns, func() error {
		var err error
		l, err = net.Listen("tcp", net.JoinHostPort(e.addr, "0"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	from := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		from <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		c.Close()
	}()
	return l.Addr().String(), from
}

// TestMasqueradeReachesOutside: a default pod reaches a host outside,
// which sees the host's address, both in process and with the plugins.
func TestMasqueradeReachesOutside(t *testing.T) {
	needRoot(t)
	for _, plugins := range []bool{false, true} {
		t.Run(fmt.Sprintf("plugins=%v", plugins), func(t *testing.T) {
			if plugins {
				withPlugins(t)
			}
			ext := newExtHost(t)
			addr, from := ext.listen(t)
			p := newPod(t)
			info, err := Setup(context.Background(), p.config("default"))
			if err != nil {
				t.Fatal(err)
			}
			err = InNetNS(info.NetNS, func() error {
				c, err := net.DialTimeout("tcp", addr, 3e9)
				if err != nil {
					return err
				}
				return c.Close()
			})
			if err != nil {
				t.Fatalf("pod -> outside host: %v", err)
			}
			if src := <-from; src != "198.18.0.1" {
				t.Errorf("outside host saw %s, want the host's 198.18.0.1", src)
			}
		})
	}
}

// TestInProcessRepeated sets up and tears down 20 default and 20
// default-restricted pods in a row: no link, lease, namespace or rule of
// theirs is left. (Other pods may come and go on the host meanwhile: only
// what these pods made is looked for.)
func TestInProcessRepeated(t *testing.T) {
	needRoot(t)
	before := iptablesLines(t)
	var uuids []string
	var hostLinks []string
	for i := 0; i < 20; i++ {
		for _, name := range []string{"default", "default-restricted"} {
			p := testPod{uuid: uuid.NewString(), dir: t.TempDir()}
			info, err := Setup(context.Background(), p.config(name))
			if err != nil {
				t.Fatal(err)
			}
			recs, _ := readRecords(p.dir)
			if !recs[0].InProcess {
				t.Fatalf("%s not added in process", name)
			}
			if _, err := netlink.LinkByName(recs[0].HostIfName); err != nil {
				t.Fatalf("host link of %s: %v", info.Nets[0].IP, err)
			}
			uuids = append(uuids, p.uuid)
			hostLinks = append(hostLinks, recs[0].HostIfName)
			teardownGone(t, p, recs)
		}
	}
	assertRulesBack(t, before, uuids...)
	for _, l := range hostLinks {
		if _, err := netlink.LinkByName(l); err == nil {
			t.Errorf("link %s left behind", l)
		}
	}
	for _, name := range []string{"default", "default-restricted"} {
		dir := filepath.Join("/var/lib/cni/networks", name)
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			for _, u := range uuids {
				if strings.Contains(string(b), u) {
					t.Errorf("lease %s/%s left behind", name, e.Name())
				}
			}
		}
	}
	for _, u := range uuids {
		if _, err := os.Lstat(NetNSPath(u)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace of %s left behind: %v", u, err)
		}
	}
}
