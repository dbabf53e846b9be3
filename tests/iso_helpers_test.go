package tests

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/stage1/isolation/caps"
	"github.com/rkt/rkt/stage1/network"
	"github.com/rkt/rkt/store/storetest"
)

// Helpers of the isolation (iso_*) and networking (net_*) tests.
//
// An isolator is checked twice: by the app itself, which writes a report
// about its own process to a host volume mounted at /out, and by a command
// run with `rkt enter`, which prints the same report. Both reports are
// "key: value" lines made by isoReport.

// isoApplets are busybox applets the isolation and network images link
// besides busyboxApplets.
var isoApplets = []string{
	"awk", "tr", "cut", "dd", "mknod", "chown", "chmod", "mv", "nc", "httpd",
	"ip", "unshare", "tail", "uniq",
}

// isoReport defines the shell function report, which prints facts about
// the process that runs it (through the child processes it starts, which
// inherit everything checked): ids, capability sets, no_new_privs,
// seccomp mode, oom_score_adj, its cgroups and their limits as the
// process can read them (and the cgroup mounts it sees), and how sensitive
// /proc paths look (/proc/keys, which every kernel has, stands for the
// masked files).
const isoReport = `
cgpath() { awk -F: -v c="$1" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' /proc/self/cgroup; }
first() { for f in "$@"; do if [ -r "$f" ]; then echo "$(cat "$f") ($f)"; return; fi; done; echo "none"; }
report() {
	grep -E '^(Uid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\t ' '  '
	echo "oom_score_adj: $(cat /proc/self/oom_score_adj)"
	m=$(cgpath memory); c=$(cgpath cpu); u=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
	echo "cgroup.memory: $m"
	echo "cgroup.cpu: $c"
	echo "cgroup.unified: $u"
	echo "memory.limit: $(first /sys/fs/cgroup/memory$m/memory.limit_in_bytes /sys/fs/cgroup$u/memory.max)"
	echo "cpu.quota: $(first /sys/fs/cgroup/cpu$c/cpu.cfs_quota_us /sys/fs/cgroup/cpu,cpuacct$c/cpu.cfs_quota_us /sys/fs/cgroup$u/cpu.max)"
	echo "cpu.shares: $(first /sys/fs/cgroup/cpu$c/cpu.shares /sys/fs/cgroup/cpu,cpuacct$c/cpu.shares /sys/fs/cgroup$u/cpu.weight)"
	echo "cgmounts: $(awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i+1) ~ /^cgroup/) printf "%s ", $5; break } }' /proc/self/mountinfo)"
	echo "keys: $(stat -c '%F %t:%T' /proc/keys 2>&1)"
	echo "procsys: $(awk '$5 == "/proc/sys" { print $6 }' /proc/self/mountinfo | tail -n 1)"
	echo "userns: $(head -n 1 /proc/self/uid_map | tr -s ' ' ' ')"
}
`

// isoSleep keeps an app running until SIGTERM (busybox sh runs a trap
// only between commands, hence the short sleeps).
const isoSleep = `
trap 'exit 0' TERM
i=0; while [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done`

// appletLinks returns bin/<name> -> busybox links for the names that
// busyboxFiles does not link already.
func appletLinks(names ...string) []storetest.File {
	var fs []storetest.File
	for _, n := range names {
		if slices.Contains(busyboxApplets, n) {
			continue
		}
		fs = append(fs, storetest.File{Name: "bin/" + n, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	}
	return fs
}

// withOut adds the mount point "out" at /out to an image's app, then
// applies mods.
func withOut(mods ...func(*schema.ImageManifest)) func(*schema.ImageManifest) {
	return func(im *schema.ImageManifest) {
		im.App.MountPoints = append(im.App.MountPoints, types.MountPoint{Name: "out", Path: "/out"})
		for _, m := range mods {
			if m != nil {
				m(im)
			}
		}
	}
}

// withIsolators adds isolators, given as name and JSON value, to an
// image's app.
func withIsolators(t *testing.T, nameValues ...string) func(*schema.ImageManifest) {
	t.Helper()
	if len(nameValues)%2 != 0 {
		t.Fatal("withIsolators takes pairs of name and value")
	}
	var isos types.Isolators
	for i := 0; i < len(nameValues); i += 2 {
		var iso types.Isolator
		raw := fmt.Sprintf(`{"name":%q,"value":%s}`, nameValues[i], nameValues[i+1])
		if err := json.Unmarshal([]byte(raw), &iso); err != nil {
			t.Fatalf("isolator %s: %v", raw, err)
		}
		isos = append(isos, iso)
	}
	return func(im *schema.ImageManifest) { im.App.Isolators = append(im.App.Isolators, isos...) }
}

// withUser makes an image's app run as uid:gid.
func withUser(uid, gid string) func(*schema.ImageManifest) {
	return func(im *schema.ImageManifest) { im.App.User, im.App.Group = uid, gid }
}

// isoImage is a busybox image (with isoApplets) whose app, mounted /out,
// runs script with isoReport's functions defined.
func (pe *podEnv) isoImage(app, script string, mods ...func(*schema.ImageManifest)) string {
	pe.t.Helper()
	return pe.busyboxImage(app, []string{"/bin/sh", "-c", isoReport + script}, withOut(mods...), appletLinks(isoApplets...)...)
}

// outVolume makes a fresh host directory for the /out mount point and
// returns it with the --volume flag that mounts it.
func (pe *podEnv) outVolume() (dir, flag string) {
	pe.t.Helper()
	dir, err := os.MkdirTemp(pe.base, "out-")
	if err != nil {
		pe.t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		pe.t.Fatal(err)
	}
	return dir, "--volume=out,kind=host,source=" + dir
}

// reportScript is the app side of a checked pod: it writes its report and
// the output of extra to /out/app (atomically), then runs until stopped.
func reportScript(extra string) string {
	return "{ report; " + extra + "\n} > /out/app.tmp 2>&1; mv /out/app.tmp /out/app\n" + isoSleep
}

// waitOutFile waits until file exists and returns its content; done, when
// not nil, tells that the pod ended, and then the wait fails at once.
func waitOutFile(t *testing.T, file string, timeout time.Duration, done func() bool) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if b, err := os.ReadFile(file); err == nil {
			return string(b)
		}
		if done != nil && done() {
			if b, err := os.ReadFile(file); err == nil {
				return string(b)
			}
			t.Fatalf("the pod ended without writing %s", filepath.Base(file))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written after %v", filepath.Base(file), timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// report is a parsed isoReport (plus any other "key: value" lines).
type report map[string]string

func parseReport(s string) report {
	r := report{}
	for _, l := range outputLines(s) {
		if k, v, ok := strings.Cut(l, ":"); ok && !strings.ContainsAny(k, " \t/") {
			if _, dup := r[k]; !dup {
				r[k] = strings.TrimSpace(v)
			}
		}
	}
	return r
}

// caps returns the capability set of a Cap* line.
func (r report) caps(t *testing.T, key string) caps.Set {
	t.Helper()
	v, err := strconv.ParseUint(r[key], 16, 64)
	if err != nil {
		t.Fatalf("report line %s: %q is not a capability mask", key, r[key])
	}
	return caps.Set(v)
}

// value returns the value of a line produced by isoReport's first: the
// file's content without the file name.
func (r report) value(key string) string {
	v, _, _ := strings.Cut(r[key], " (")
	return v
}

// checkedPod runs a pod of one app (the image at img, made with isoImage
// and reportScript) with runArgs, waits for the app's report, and gets
// the same report (with extra) from inside `rkt enter`. It returns the
// pod's UUID, the app's report, the entered command's report and their raw
// texts joined, for failure messages.
func (pe *podEnv) checkedPod(app, extra string, runArgs ...string) (uuid string, inApp, inEnter report, raw string) {
	pe.t.Helper()
	uuid, inApp, appRaw := pe.checkedPodApp(extra, runArgs...)
	out, stderr, code := rkt(pe.t, pe.env, "enter", "--app="+app, uuid, "/bin/sh", "-c", isoReport+"report; "+extra+"\ntrue")
	if code != 0 {
		pe.t.Errorf("rkt enter %s: exit %d\nstderr: %s", app, code, stderr)
	}
	return uuid, inApp, parseReport(out), "in the app:\n" + appRaw + "\nin rkt enter:\n" + out
}

// checkedPodApp is checkedPod without the enter part.
func (pe *podEnv) checkedPodApp(extra string, runArgs ...string) (uuid string, inApp report, raw string) {
	pe.t.Helper()
	dir, vol := pe.outVolume()
	uuid, wait := pe.startPod(append([]string{vol}, runArgs...)...)
	var ended bool
	var mu sync.Mutex
	go func() {
		wait()
		mu.Lock()
		ended = true
		mu.Unlock()
	}()
	raw = waitOutFile(pe.t, filepath.Join(dir, "app"), time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return ended
	})
	return uuid, parseReport(raw), raw
}

// selfCaps is the capability bounding set of the test process: what an app
// may have at most.
func selfCaps(t *testing.T) caps.Set {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	r := parseReport(string(b))
	return r.caps(t, "CapBnd")
}

// swapOn reports whether the host has swap, which lets a memory-limited
// process swap instead of being killed.
func swapOn() bool {
	b, err := os.ReadFile("/proc/swaps")
	return err != nil || len(strings.Split(strings.TrimSpace(string(b)), "\n")) > 1
}

// Networking: every network test builds its own host in a network
// namespace, runs rkt there, and only sends traffic to addresses inside
// the namespaces it made.

// netHost is a network namespace that plays the host pods run on, linked
// by a veth pair to a second namespace that plays a machine beyond it:
//
//	[pod] --ptp-- [host: up0 10.199.0.1/24] ---- [outside: down0 10.199.0.2/24]
//
// The host forwards IP packets, as a host running rkt's default network
// does.
type netHost struct {
	name, path       string // the host namespace (in /run/netns)
	outName, outPath string // the outside namespace
	hostIP, outIP    string
}

const (
	netHostIP    = "10.199.0.1"
	netOutsideIP = "10.199.0.2"
)

// needNetTools skips the test when the host lacks what the network tests
// need: iproute2, nsenter, iptables and the CNI plugins.
func needNetTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ip", "nsenter", "iptables-save"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: network tests need %s (iproute2, util-linux, iptables): %v", tool, err)
		}
	}
	for _, p := range []string{"ptp", "host-local", "portmap", "bridge"} {
		found := false
		for _, d := range network.DefaultPluginDirs {
			if exists(filepath.Join(d, p)) {
				found = true
			}
		}
		if !found {
			t.Skipf("skipping: CNI plugin %s not installed (Debian: containernetworking-plugins)", p)
		}
	}
}

// newNetHost makes the host and outside namespaces of a test and removes
// them when it ends.
func newNetHost(t *testing.T) *netHost {
	t.Helper()
	needNetTools(t)
	id := fmt.Sprintf("%x", rand.Uint32())
	h := &netHost{
		name: "rkttest-h-" + id, outName: "rkttest-o-" + id,
		hostIP: netHostIP, outIP: netOutsideIP,
	}
	h.path = filepath.Join(network.NetNSDir, h.name)
	h.outPath = filepath.Join(network.NetNSDir, h.outName)
	ipCmd(t, "netns", "add", h.name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", h.name).Run() })
	ipCmd(t, "netns", "add", h.outName)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", h.outName).Run() })
	ipCmd(t, "-n", h.name, "link", "set", "lo", "up")
	ipCmd(t, "-n", h.outName, "link", "set", "lo", "up")
	ipCmd(t, "-n", h.name, "link", "add", "up0", "type", "veth", "peer", "name", "down0", "netns", h.outName)
	ipCmd(t, "-n", h.name, "addr", "add", h.hostIP+"/24", "dev", "up0")
	ipCmd(t, "-n", h.name, "link", "set", "up0", "up")
	ipCmd(t, "-n", h.outName, "addr", "add", h.outIP+"/24", "dev", "down0")
	ipCmd(t, "-n", h.outName, "link", "set", "down0", "up")
	if err := network.InNetNS(h.path, func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644)
	}); err != nil {
		t.Fatalf("enabling IP forwarding in the test host: %v", err)
	}
	return h
}

func ipCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// in makes cmd run in the host namespace (nsenter --net, nothing else: the
// mount namespace stays the test's, so rkt's mounts are where gc finds
// them).
func (h *netHost) in(cmd *exec.Cmd) {
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		cmd.Err = err
		return
	}
	cmd.Args = append([]string{"nsenter", "--net=" + h.path, "--", cmd.Path}, cmd.Args[1:]...)
	cmd.Path = nsenter
}

// rkt runs rkt in the host namespace, like the rkt helper.
func (h *netHost) rkt(t *testing.T, e *env, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := e.command(ctx, args...)
	h.in(cmd)
	var out, errb strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &errb
	err := cmd.Run()
	exit = exitCode(t, err)
	t.Logf("(in %s) rkt %s\n-> exit %d\nstdout:\n%s\nstderr:\n%s", h.name, strings.Join(args, " "), exit, out.String(), errb.String())
	if ctx.Err() != nil {
		t.Errorf("rkt %s: timed out after %v", strings.Join(args, " "), commandTimeout)
	}
	return out.String(), errb.String(), exit
}

// run is `rkt run` in the host namespace with the env's stage1 flags.
func (h *netHost) run(pe *podEnv, args ...string) (stdout, stderr string, exit int) {
	pe.t.Helper()
	return h.rkt(pe.t, pe.env, pe.withStage1("run", args)...)
}

// gc runs `rkt gc --grace-period=0s` in the host namespace (so that CNI
// DEL removes the iptables rules where ADD made them), before the env's
// own teardown.
func (h *netHost) gc(pe *podEnv) {
	pe.t.Helper()
	if _, stderr, code := h.rkt(pe.t, pe.env, "gc", "--grace-period=0s"); code != 0 {
		pe.t.Errorf("rkt gc in the test host: exit %d\n%s", code, stderr)
	}
}

// startPod starts `rkt run` in the host namespace in the background and
// returns the pod's UUID once it runs, and a function that waits for rkt
// to exit (SIGTERM when the test ends first) and returns its exit code
// and output. rkt gc runs in the host namespace when the test ends.
func (h *netHost) startPod(pe *podEnv, args ...string) (uuid string, wait func() (int, string)) {
	pe.t.Helper()
	pe.t.Cleanup(func() { h.gc(pe) }) // runs after startPodIn's cleanup has waited for rkt
	return pe.startPodIn(h.in, "(in "+h.name+") ", args...)
}

// podNet is one record of a pod's net-info.json (the stage1's network
// state file; see stage1/network).
type podNet struct {
	Name   string `json:"netName"`
	IfName string `json:"ifName"`
	IP     string `json:"ip"`
	HostIP string `json:"hostIP"`
	Gw     string `json:"gateway"`
}

// podNets reads the network records of a running pod.
func (pe *podEnv) podNets(uuid string) []podNet {
	pe.t.Helper()
	dir := pe.podDir(uuid)
	b, err := os.ReadFile(filepath.Join(dir, network.NetInfoFile))
	if err != nil {
		pe.t.Fatalf("reading the pod's network state: %v", err)
	}
	var nets []podNet
	if err := json.Unmarshal(b, &nets); err != nil {
		pe.t.Fatalf("parsing %s: %v\n%s", network.NetInfoFile, err, b)
	}
	return nets
}

// recorder is an HTTP server in a namespace that answers every request
// with its body and records the peers that reached it.
type recorder struct {
	addr  string
	mu    sync.Mutex
	peers []string
}

// serveIn starts a recorder listening on addr inside the namespace at
// nsPath; it stops when the test ends.
func serveIn(t *testing.T, nsPath, addr, body string) *recorder {
	t.Helper()
	var ln net.Listener
	if err := network.InNetNS(nsPath, func() error {
		var err error
		ln, err = net.Listen("tcp4", addr)
		return err
	}); err != nil {
		t.Fatalf("listening on %s in %s: %v", addr, nsPath, err)
	}
	rec := &recorder{addr: ln.Addr().String()}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		rec.peers = append(rec.peers, host)
		rec.mu.Unlock()
		io.WriteString(w, body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return rec
}

func (r *recorder) port() string {
	_, p, _ := net.SplitHostPort(r.addr)
	return p
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.peers)
}

// httpGetIn makes one HTTP/1.0 GET of / to addr from inside the namespace
// at nsPath and returns the response body.
func httpGetIn(nsPath, addr string) (string, error) {
	var c net.Conn
	if err := network.InNetNS(nsPath, func() error {
		var err error
		c, err = net.DialTimeout("tcp4", addr, 3*time.Second)
		return err
	}); err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\nHost: pod\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET http://%s/: %s", addr, resp.Status)
	}
	return string(b), err
}

// httpGetInRetry retries httpGetIn for up to timeout (the pod's server may
// still be starting).
func httpGetInRetry(nsPath, addr string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		body, err := httpGetIn(nsPath, addr)
		if err == nil || time.Now().After(deadline) {
			return body, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// links lists the network interfaces of a namespace (`ip -o link`), by
// name without the @peer suffix.
func links(t *testing.T, nsName string) []string {
	t.Helper()
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(ipCmd(t, "-n", nsName, "-o", "link", "show")), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// iptablesIn returns the rules and chains of every table in the namespace
// at nsPath (iptables-save without comments and counters).
func iptablesIn(t *testing.T, nsPath string) []string {
	t.Helper()
	out, err := exec.Command("nsenter", "--net="+nsPath, "--", "iptables-save").Output()
	if err != nil {
		t.Fatalf("iptables-save in %s: %v", nsPath, err)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l == "" || strings.HasPrefix(l, "#") || l == "COMMIT" {
			continue
		}
		if strings.HasPrefix(l, ":") {
			// ":CHAIN POLICY [packets:bytes]": keep the chain and policy.
			f := strings.Fields(l)
			l = strings.Join(f[:min(2, len(f))], " ")
		}
		lines = append(lines, l)
	}
	return lines
}
