package tests

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/stage1/network"
)

// Network tests: each builds its own host in a network namespace
// (newNetHost), runs rkt there, and only ever sends traffic to addresses
// inside the namespaces it made. Pods of these tests are agents: the app
// waits for a script the test writes to /out/script, runs it and writes
// its output to /out/result.

const agentScript = `i=0; while [ ! -f /out/script ]; do sleep 0.05; i=$((i+1)); [ $i -lt 2400 ] || exit 9; done
sh /out/script > /out/result.tmp 2>&1; mv /out/result.tmp /out/result`

// netReport prints the pod's interfaces (one "if: NAME" line each) and its
// IPv4 routes ("route: ..." lines).
const netReport = `awk -F: 'NR > 2 { gsub(/ /, "", $1); print "if: " $1 }' /proc/net/dev
ip -4 route | while read -r l; do echo "route: $l"; done
`

// tell has the agent pod run script and returns its output.
func tell(t *testing.T, dir, script string) string {
	t.Helper()
	tmp := filepath.Join(dir, "script.tmp")
	if err := os.WriteFile(tmp, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "script")); err != nil {
		t.Fatal(err)
	}
	out := waitOutFile(t, filepath.Join(dir, "result"), time.Minute, nil)
	t.Logf("the pod ran:\n%s\nand printed:\n%s", script, out)
	return out
}

// fetchLine is a script line making an HTTP request from the pod to
// addr (host:port) with nc (busybox's static wget crashes on some hosts):
// it prints "KEY-exit: CODE" and "KEY-body: LAST LINE OF THE RESPONSE".
func fetchLine(key, addr string) string {
	h, p, _ := net.SplitHostPort(addr)
	return fmt.Sprintf("r=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 %s %s 2>&1); echo \"%s-exit: $?\"; echo \"%s-body: $(echo \"$r\" | tail -n 1)\"\n", h, p, key, key)
}

func lines(out, prefix string) []string {
	var ls []string
	for _, l := range outputLines(out) {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			ls = append(ls, v)
		}
	}
	return ls
}

// onlyNet waits for the pod to be ready and returns its single network record, failing unless it is
// named name with an address in subnet.
func onlyNet(t *testing.T, pe *podEnv, uuid, name, subnet string) podNet {
	t.Helper()
	pe.ok("status", "--wait-ready=30s", uuid)
	nets := pe.podNets(uuid)
	if len(nets) != 1 || nets[0].Name != name {
		t.Fatalf("the pod's networks: %+v, want only %s", nets, name)
	}
	_, sn, _ := net.ParseCIDR(subnet)
	if ip := net.ParseIP(nets[0].IP); ip == nil || !sn.Contains(ip) {
		t.Fatalf("the pod's %s address %q is not in %s", name, nets[0].IP, subnet)
	}
	if nets[0].HostIP == "" {
		nets[0].HostIP = nets[0].Gw
	}
	return nets[0]
}

// reachPod starts an agent pod on network netName in a host of the test's
// own, with an HTTP server on the host and one beyond it, and has the pod
// report its interfaces and routes and fetch from both servers (keys
// "host" and "out", see fetchLine).
func reachPod(t *testing.T, netName, subnet string) (h *netHost, pe *podEnv, uuid string, n podNet, out string, onHost, outside *recorder) {
	t.Helper()
	h = newNetHost(t)
	pe = newPodEnv(t)
	onHost = serveIn(t, h.path, "0.0.0.0:0", "hello-from-host")
	outside = serveIn(t, h.outPath, h.outIP+":0", "hello-from-outside")
	dir, vol := pe.outVolume()
	uuid, _ = h.startPod(pe, "--net="+netName, vol, pe.isoImage("agent", agentScript))
	n = onlyNet(t, pe, uuid, netName, subnet)
	out = tell(t, dir, netReport+
		fetchLine("host", net.JoinHostPort(n.HostIP, onHost.port()))+
		fetchLine("out", net.JoinHostPort(h.outIP, outside.port())))
	return h, pe, uuid, n, out, onHost, outside
}

// TestNetDefault: on the default network the pod reaches the host over
// its ptp link (seen from its own address), routes out through the host
// (masqueraded to the host's address), and list and status show the
// network and address.
func TestNetDefault(t *testing.T) {
	t.Parallel()
	h, pe, uuid, n, out, onHost, outside := reachPod(t, "default", "172.16.28.0/24")
	r := parseReport(out)
	if ifs := lines(out, "if: "); !slices.Equal(ifs, []string{"lo", "eth0"}) && !slices.Equal(ifs, []string{"eth0", "lo"}) {
		t.Errorf("the pod's interfaces: %v, want lo and eth0", ifs)
	}
	if !slices.ContainsFunc(lines(out, "route: "), func(l string) bool { return strings.HasPrefix(l, "default via ") }) {
		t.Errorf("the pod has no default route: %v", lines(out, "route: "))
	}
	if r["host-exit"] != "0" || r["host-body"] != "hello-from-host" {
		t.Errorf("the pod fetching from the host at %s: exit %s, body %q", n.HostIP, r["host-exit"], r["host-body"])
	}
	if got := onHost.seen(); !slices.Equal(got, []string{n.IP}) {
		t.Errorf("the host saw requests from %v, want one from the pod's %s", got, n.IP)
	}
	if r["out-exit"] != "0" || r["out-body"] != "hello-from-outside" {
		t.Errorf("the pod fetching from beyond the host: exit %s, body %q", r["out-exit"], r["out-body"])
	}
	if got := outside.seen(); !slices.Equal(got, []string{h.hostIP}) {
		t.Errorf("beyond the host, requests came from %v, want one from the host's %s (masqueraded)", got, h.hostIP)
	}

	// list and status.
	want := "default:ip4=" + n.IP
	if st := pe.status(uuid); st["networks"] != want {
		t.Errorf("status networks=%q, want %q", st["networks"], want)
	}
	if l := pe.ok("list", "--no-legend", "--full"); !strings.Contains(l, want) {
		t.Errorf("list does not show %s:\n%s", want, l)
	}
	var pods []struct {
		Name     string           `json:"name"`
		Networks []map[string]any `json:"networks"`
	}
	js := pe.ok("list", "--format=json")
	if err := json.Unmarshal([]byte(js), &pods); err != nil || len(pods) != 1 {
		t.Fatalf("list --format=json: %q (%v)", js, err)
	}
	if len(pods[0].Networks) != 1 || pods[0].Networks[0]["netName"] != "default" || pods[0].Networks[0]["ip"] != n.IP {
		t.Errorf("list --format=json networks: %v, want default with ip %s", pods[0].Networks, n.IP)
	}
}

// TestNetDefaultRestricted: default-restricted reaches the host but has
// no route out, and nothing leaves through the host.
func TestNetDefaultRestricted(t *testing.T) {
	t.Parallel()
	_, _, _, n, out, onHost, outside := reachPod(t, "default-restricted", "172.31.0.0/16")
	r := parseReport(out)
	if slices.ContainsFunc(lines(out, "route: "), func(l string) bool { return strings.HasPrefix(l, "default") }) {
		t.Errorf("default-restricted has a default route: %v", lines(out, "route: "))
	}
	if r["host-exit"] != "0" || r["host-body"] != "hello-from-host" {
		t.Errorf("default-restricted fetching from the host at %s: exit %s, body %q", n.HostIP, r["host-exit"], r["host-body"])
	}
	if got := onHost.seen(); !slices.Equal(got, []string{n.IP}) {
		t.Errorf("the host saw requests from %v, want one from the pod's %s", got, n.IP)
	}
	if r["out-exit"] == "0" {
		t.Errorf("default-restricted fetched from beyond the host: %q", r["out-body"])
	}
	if got := outside.seen(); len(got) != 0 {
		t.Errorf("beyond the host, requests came from %v, want none", got)
	}
}

// TestNetPortForward: --port forwards a manifest port from the host: from
// the host itself (its address and loopback) and from beyond it.
func TestNetPortForward(t *testing.T) {
	t.Parallel()
	h := newNetHost(t)
	pe := newPodEnv(t)
	img := pe.isoImage("web", `mkdir -p /www && echo served-by-pod > /www/index.html && exec httpd -f -p 80 -h /www`,
		func(im *schema.ImageManifest) {
			im.App.Ports = append(im.App.Ports, types.Port{Name: "http", Protocol: "tcp", Port: 80, Count: 1})
		})
	_, vol := pe.outVolume()
	hostPort := fmt.Sprint(20000 + rand.IntN(10000))
	h.startPod(pe, "--port=http:"+hostPort, vol, img)

	for _, c := range []struct{ from, fromPath, addr string }{
		{"the host, to its own address", h.path, h.hostIP},
		{"beyond the host", h.outPath, h.hostIP},
		{"the host, to loopback", h.path, "127.0.0.1"},
	} {
		body, err := httpGetInRetry(c.fromPath, net.JoinHostPort(c.addr, hostPort), 15*time.Second)
		if err != nil || strings.TrimSpace(body) != "served-by-pod" {
			t.Errorf("from %s: GET %s:%s: %q, %v; want the pod's page", c.from, c.addr, hostPort, body, err)
		}
	}

	// A name the manifest does not declare is a usage error.
	if _, stderr, code := h.run(pe, "--port=nosuch:8080", img); code != 254 {
		t.Errorf("--port with an undeclared name: exit %d, want 254\n%s", code, stderr)
	}
}

// TestNetHost: --net=host shares the host's network namespace and leaves
// no network state.
func TestNetHost(t *testing.T) {
	t.Parallel()
	h := newNetHost(t)
	pe := newPodEnv(t)
	var st syscall.Stat_t
	if err := syscall.Stat(h.path, &st); err != nil {
		t.Fatal(err)
	}
	dir, vol := pe.outVolume()
	img := pe.isoImage("hostnet", `{ echo "netns: $(readlink /proc/self/ns/net)"; `+netReport+`} > /out/r.tmp; mv /out/r.tmp /out/result`)
	if _, stderr, code := h.run(pe, "--net=host", vol, img); code != 0 {
		t.Fatalf("rkt run --net=host: exit %d\n%s", code, stderr)
	}
	out := waitOutFile(t, filepath.Join(dir, "result"), 5*time.Second, nil)
	if got, want := parseReport(out)["netns"], fmt.Sprintf("net:[%d]", st.Ino); got != want {
		t.Errorf("--net=host: the app's network namespace %s, the host's %s", got, want)
	}
	if ifs := lines(out, "if: "); !slices.Contains(ifs, "up0") {
		t.Errorf("--net=host: the app sees interfaces %v, want the host's (up0)", ifs)
	}
}

// TestNetNone: --net=none gives a namespace with only loopback, up.
func TestNetNone(t *testing.T) {
	t.Parallel()
	h := newNetHost(t)
	pe := newPodEnv(t)
	dir, vol := pe.outVolume()
	img := pe.isoImage("nonet", `{ `+netReport+` ip -4 addr show lo | awk '$1 == "inet" { print "lo4: " $2 }'; } > /out/r.tmp; mv /out/r.tmp /out/result`)
	if _, stderr, code := h.run(pe, "--net=none", vol, img); code != 0 {
		t.Fatalf("rkt run --net=none: exit %d\n%s", code, stderr)
	}
	out := waitOutFile(t, filepath.Join(dir, "result"), 5*time.Second, nil)
	if ifs := lines(out, "if: "); !slices.Equal(ifs, []string{"lo"}) {
		t.Errorf("--net=none: interfaces %v, want only lo", ifs)
	}
	if got := parseReport(out)["lo4"]; got != "127.0.0.1/8" {
		t.Errorf("--net=none: loopback address %q, want 127.0.0.1/8 (lo up)", got)
	}
	if rs := lines(out, "route: "); slices.ContainsFunc(rs, func(l string) bool { return !strings.Contains(l, "dev lo") }) {
		t.Errorf("--net=none: routes other than loopback: %v", rs)
	}
}

// TestNetNamed: a network from the local configuration's net.d, with an
// address asked for on the command line (--net=NAME:IP=...).
func TestNetNamed(t *testing.T) {
	t.Parallel()
	h := newNetHost(t)
	pe := newPodEnv(t)
	netd := filepath.Join(pe.localConfig, network.NetDir)
	if err := os.MkdirAll(netd, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := `{"cniVersion":"1.0.0","name":"tnet","type":"bridge","bridge":"rkttbr0","isGateway":true,
"ipam":{"type":"host-local","subnet":"10.77.0.0/24","dataDir":"` + filepath.Join(pe.base, "ipam") + `"}}`
	if err := os.WriteFile(filepath.Join(netd, "10-tnet.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	onHost := serveIn(t, h.path, "0.0.0.0:0", "hello-over-bridge")
	dir, vol := pe.outVolume()
	uuid, _ := h.startPod(pe, "--net=tnet:IP=10.77.0.42", vol, pe.isoImage("agent", agentScript))
	n := onlyNet(t, pe, uuid, "tnet", "10.77.0.0/24")
	if n.IP != "10.77.0.42" {
		t.Errorf("tnet address %s, want 10.77.0.42 (IP=)", n.IP)
	}
	out := tell(t, dir, `ip -4 addr show eth0 | awk '$1 == "inet" { print "eth0: " $2 }'`+"\n"+
		fetchLine("host", net.JoinHostPort("10.77.0.1", onHost.port())))
	r := parseReport(out)
	if r["eth0"] != "10.77.0.42/24" {
		t.Errorf("eth0 in the pod: %q, want 10.77.0.42/24", r["eth0"])
	}
	if r["host-body"] != "hello-over-bridge" {
		t.Errorf("the pod fetching from the bridge's host address: exit %s, body %q", r["host-exit"], r["host-body"])
	}
	if st := pe.status(uuid); st["networks"] != "tnet:ip4=10.77.0.42" {
		t.Errorf("status networks=%q, want tnet:ip4=10.77.0.42", st["networks"])
	}
}

// nameFiles runs a pod with --net=none and flags in a host of the test's
// own and returns its app's /etc/resolv.conf and /etc/hosts.
func nameFiles(t *testing.T, flags ...string) (resolv, hosts string) {
	t.Helper()
	h := newNetHost(t)
	pe := newPodEnv(t)
	dir, vol := pe.outVolume()
	img := pe.isoImage("dns", `{ cat /etc/resolv.conf; echo ---; cat /etc/hosts; } > /out/r.tmp; mv /out/r.tmp /out/result`)
	args := append(append([]string{"--net=none"}, flags...), vol, img)
	if _, stderr, code := h.run(pe, args...); code != 0 {
		t.Fatalf("rkt run %s: exit %d\n%s", strings.Join(flags, " "), code, stderr)
	}
	out := waitOutFile(t, filepath.Join(dir, "result"), 5*time.Second, nil)
	resolv, hosts, _ = strings.Cut(out, "---\n")
	return resolv, hosts
}

// TestNetDNS: --dns, --dns-search, --dns-opt, --dns-domain and
// --hosts-entry reach the app's /etc/resolv.conf and /etc/hosts, which
// also names the pod's hostname.
func TestNetDNS(t *testing.T) {
	t.Parallel()
	resolv, hosts := nameFiles(t, "--hostname=podhost", "--dns=10.9.9.9", "--dns-search=example.test",
		"--dns-opt=ndots:3", "--dns-domain=pods.test", "--hosts-entry=10.9.9.10=db.example.test")
	for _, want := range []string{"nameserver 10.9.9.9", "search example.test", "options ndots:3", "domain pods.test"} {
		if !hasLine(resolv, want) {
			t.Errorf("/etc/resolv.conf lacks %q:\n%s", want, resolv)
		}
	}
	if !strings.Contains(hosts, "10.9.9.10") || !strings.Contains(hosts, "db.example.test") {
		t.Errorf("/etc/hosts lacks the --hosts-entry:\n%s", hosts)
	}
	if !strings.Contains(hosts, "podhost") {
		t.Errorf("/etc/hosts does not name the pod's hostname:\n%s", hosts)
	}
}

// TestNetDNSHost: --dns=host and --hosts-entry=host give the app the
// host's /etc/resolv.conf and /etc/hosts.
func TestNetDNSHost(t *testing.T) {
	t.Parallel()
	resolv, hosts := nameFiles(t, "--dns=host", "--hosts-entry=host")
	for file, got := range map[string]string{"/etc/resolv.conf": resolv, "/etc/hosts": hosts} {
		want, err := os.ReadFile(file)
		if err != nil {
			t.Skipf("skipping: the host has no %s: %v", file, err)
		}
		if strings.TrimSpace(got) != strings.TrimSpace(string(want)) {
			t.Errorf("%s in the app:\n%s\nwant the host's:\n%s", file, got, want)
		}
	}
}

// TestNetBrokenNetdFile: a net.d file that cannot be read breaks only the
// pods that ask for its network; a pod on the default network runs, with a
// warning naming the file. Keys are read without regard to case, as rkt
// 1.30 read them: a network written with "Name" and "Type" works.
func TestNetBrokenNetdFile(t *testing.T) {
	t.Parallel()
	h := newNetHost(t)
	pe := newPodEnv(t)
	netd := filepath.Join(pe.localConfig, network.NetDir)
	if err := os.MkdirAll(netd, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(netd, "50-broken.conf"), []byte(`{"name": "broken", `), 0o644); err != nil {
		t.Fatal(err)
	}
	caps := `{"CNIVersion":"1.0.0","Name":"capsnet","Type":"bridge","Bridge":"rkttbr1","IsGateway":true,
"IPAM":{"Type":"host-local","Subnet":"10.78.0.0/24","DataDir":"` + filepath.Join(pe.base, "ipam") + `"}}`
	if err := os.WriteFile(filepath.Join(netd, "10-capsnet.conf"), []byte(caps), 0o644); err != nil {
		t.Fatal(err)
	}
	img := pe.shImage("netd", "echo ran")
	for _, n := range []string{"default", "capsnet"} {
		out, stderr, code := h.run(pe, "--net="+n, img)
		if code != 0 || !hasLine(out, "ran") {
			t.Errorf("--net=%s with a broken net.d file beside it: exit %d\n%s\n%s", n, code, out, stderr)
		}
		if !strings.Contains(stderr, "50-broken.conf") {
			t.Errorf("--net=%s: no warning naming the broken file:\n%s", n, stderr)
		}
	}
}
