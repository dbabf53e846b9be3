package podspec

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/common/acimanifest"
	"github.com/rkt/rkt/common/podlayout"
)

// fuzzArgs splits a fuzz input into an argument vector, one per line.
// Inputs naming --set-env-file are left out: it reads a file of the
// user's choosing, which is not untrusted input.
func fuzzArgs(s string) ([]string, bool) {
	if strings.Contains(s, "set-env-file") {
		return nil, false
	}
	if s == "" {
		return nil, true
	}
	return strings.Split(s, "\n"), true
}

// FuzzParse feeds Parse arbitrary run and prepare command lines, one
// argument per line. Seeds are command lines from rkt's documentation.
// Properties:
//   - every error is a usage error (ErrUsage) or the request for help;
//   - Parse is deterministic;
//   - what becomes a path later is valid: app names, volume names, mount
//     targets, the --net list;
//   - the --volume and --port grammars round-trip: a parsed volume or
//     port, rendered back into its flag, parses to the same value.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"example.com/app:1.0",
		"--volume=data,kind=host,source=/srv/data,readOnly=true\nexample.com/app\n--mount\nvolume=data,target=/data",
		"--volume=scratch,kind=empty,mode=0700,uid=1000,gid=1000\nexample.com/app",
		"--volume\nwork,kind=host,source=/tmp,recursive=false\ncoreos.com/etcd:v2.0.0",
		"--port=http:8080\nexample.com/nginx",
		"--port=http:127.0.0.1:8080\n--port=dns:53\nexample.com/nginx",
		"--net=default-restricted,mynet:IP=10.1.2.3\nexample.com/app",
		"--net\nexample.com/app",
		"--net=host\n--dns=8.8.8.8,1.1.1.1\n--dns-search=example.com\n--dns-opt=ndots:3\n--hosts-entry=10.0.0.1=db.example\nexample.com/app",
		"example.com/one\n--exec=/bin/sh\n--name=first\n--user=nobody\n--group\nusers\n--supplementary-gids=10,20\n--working-dir=/srv\n--readonly-rootfs\n--environment=A=1\n--\n-c\necho hi\n---\nexample.com/two\n--name\nsecond",
		"--insecure-options=image\n--debug\ndocker://busybox\n--memory=512M\n--cpu=500m\n--cpu-shares=512\n--oom-score-adj=100\n--caps-retain=CAP_NET_ADMIN,CAP_CHOWN\n--seccomp=mode=remove,errno=ENOSYS,reboot",
		"--stage1-name=coreos.com/rkt/stage1-fly:1.30.0\n--private-users\n--ipc=private\n--hostname=pod1\n--interactive\nexample.com/app\n--user-annotation=k=v\n--user-label=tier=web\n--annotation=example.com/a=b",
		"--pod-manifest=/tmp/pm.json\n--net=none",
		"--uuid-file-save=/run/pod.uuid\n--pull-policy=never\nsha512-277205b3ae3e",
		"--help",
	} {
		f.Add(false, s)
		f.Add(true, s)
	}
	f.Fuzz(func(t *testing.T, prepare bool, in string) {
		args, ok := fuzzArgs(in)
		if !ok {
			return
		}
		cmd := "run"
		if prepare {
			cmd = "prepare"
		}
		plan := &Plan{Command: cmd}
		err := Parse(args, plan)
		if err != nil {
			if !errors.Is(err, ErrUsage) && !errors.Is(err, ErrHelp) {
				t.Fatalf("Parse(%q): neither usage nor help: %v", args, err)
			}
			return
		}
		again := &Plan{Command: cmd}
		if err := Parse(args, again); err != nil || !reflect.DeepEqual(plan, again) {
			t.Fatalf("Parse(%q) is not deterministic (%v)", args, err)
		}
		for _, a := range plan.Apps {
			if a.Name != "" {
				if err := podlayout.ValidAppName(a.Name); err != nil {
					t.Fatalf("Parse(%q) accepted the app name %q: %v", args, a.Name, err)
				}
			}
			for _, m := range a.Mounts {
				if err := checkTarget(m.Path); err != nil {
					t.Fatalf("Parse(%q) accepted the mount %+v: %v", args, m, err)
				}
				if _, err := types.NewACName(m.Volume.String()); err != nil {
					t.Fatalf("Parse(%q) accepted the mount %+v: %v", args, m, err)
				}
			}
		}
		for _, v := range plan.Volumes {
			if _, err := types.NewACName(v.Name.String()); err != nil {
				t.Fatalf("Parse(%q) accepted the volume %+v: %v", args, v, err)
			}
			back := &Plan{Command: cmd}
			if err := Parse([]string{"--volume", v.String(), "example.com/app"}, back); err != nil {
				t.Fatalf("volume %q rendered as %q does not parse: %v", args, v.String(), err)
			}
			if !reflect.DeepEqual(back.Volumes, []types.Volume{v}) {
				t.Fatalf("volume %+v rendered as %q parses back as %+v", v, v.String(), back.Volumes)
			}
		}
		for _, p := range plan.Ports {
			if p.HostPort < 1 || p.HostPort > 65535 {
				t.Fatalf("Parse(%q) accepted host port %d", args, p.HostPort)
			}
			s := p.Name.String() + ":"
			if p.HostIP != nil {
				s += p.HostIP.String() + ":"
			}
			s += strconv.FormatUint(uint64(p.HostPort), 10)
			back := &Plan{Command: cmd}
			if err := Parse([]string{"--port", s, "example.com/app"}, back); err != nil {
				t.Fatalf("port %+v rendered as %q does not parse: %v", p, s, err)
			}
			if len(back.Ports) != 1 || back.Ports[0].Name != p.Name || back.Ports[0].HostPort != p.HostPort ||
				!back.Ports[0].HostIP.Equal(p.HostIP) {
				t.Fatalf("port %+v rendered as %q parses back as %+v", p, s, back.Ports)
			}
		}
		if len(plan.Runtime.NetList) == 0 {
			t.Fatalf("Parse(%q): no --net list", args)
		}
		if plan.PullPolicy != "new" && plan.PullPolicy != "update" && plan.PullPolicy != "never" {
			t.Fatalf("Parse(%q): pull policy %q", args, plan.PullPolicy)
		}
	})
}

// readSeeds adds the files matching pattern in testdata as seeds.
func readSeeds(f *testing.F, pattern string) [][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seeds %s in testdata (%v)", pattern, err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzLoadManifest feeds LoadManifest (--pod-manifest) and ForwardedPorts
// arbitrary pod manifests. Seeds are the appc specification's example and
// pod manifests as rkt writes them. Properties: no panic; an accepted
// manifest has apps, and only valid app and volume names, images with an
// ID or a name and mount targets that are absolute without "..";
// marshalling it and loading it again gives the same manifest; forwarded
// ports are in range, tcp or udp, each host port once.
func FuzzLoadManifest(f *testing.F) {
	for _, b := range readSeeds(f, "pod-manifest-*.json") {
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "pod-manifest")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		pm, err := LoadManifest(p)
		if err != nil {
			return
		}
		checkPodManifest(t, pm)
		out, err := pm.MarshalJSON()
		if err != nil {
			t.Fatalf("marshalling an accepted pod manifest: %v", err)
		}
		if err := os.WriteFile(p, out, 0o644); err != nil {
			t.Fatal(err)
		}
		again, err := LoadManifest(p)
		if err != nil {
			t.Fatalf("an accepted pod manifest, marshalled, is refused: %v\n%s", err, out)
		}
		out2, err := again.MarshalJSON()
		if err != nil || string(out) != string(out2) {
			t.Fatalf("pod manifest changes through a round trip (%v):\n%s\n%s", err, out, out2)
		}
	})
}

// checkPodManifest asserts what stage0 relies on in a pod manifest it
// accepted or built.
func checkPodManifest(t *testing.T, pm *schema.PodManifest) {
	t.Helper()
	if len(pm.Apps) == 0 {
		t.Fatalf("pod manifest without apps accepted")
	}
	for _, ra := range pm.Apps {
		if err := podlayout.ValidAppName(ra.Name.String()); err != nil {
			t.Fatalf("app name %q accepted: %v", ra.Name, err)
		}
		if ra.Image.ID.Empty() && ra.Image.Name == nil {
			t.Fatalf("app %q without an image ID or name accepted", ra.Name)
		}
		for _, m := range ra.Mounts {
			if err := checkTarget(m.Path); err != nil {
				t.Fatalf("app %q: mount %+v accepted: %v", ra.Name, m, err)
			}
		}
	}
	for _, v := range pm.Volumes {
		if err := podlayout.ValidAppName(v.Name.String()); err != nil {
			t.Fatalf("volume name %q accepted: %v", v.Name, err)
		}
	}
	fws, err := ForwardedPorts(pm)
	if err != nil {
		if !errors.Is(err, ErrUsage) {
			t.Fatalf("ForwardedPorts: not a usage error: %v", err)
		}
		return
	}
	seen := map[string]bool{}
	for _, fw := range fws {
		if fw.PodPort == 0 || fw.HostPort == 0 || (fw.Protocol != "tcp" && fw.Protocol != "udp") {
			t.Fatalf("forwarded port %+v", fw)
		}
		if fw.HostIP != "" && net.ParseIP(fw.HostIP) == nil {
			t.Fatalf("forwarded port %+v: host IP does not parse", fw)
		}
		key := fw.Protocol + "/" + strconv.Itoa(int(fw.HostPort))
		if seen[key+"@"+fw.HostIP] || seen[key+"@"] || (fw.HostIP == "" && seenPort(seen, key)) {
			t.Fatalf("host port %s forwarded twice: %+v", key, fws)
		}
		seen[key+"@"+fw.HostIP] = true
	}
}

func seenPort(seen map[string]bool, key string) bool {
	for k := range seen {
		if strings.HasPrefix(k, key+"@") {
			return true
		}
	}
	return false
}

// FuzzImageManifest feeds Manifest (the pod manifest of `rkt run` and
// `prepare`) an arbitrary image manifest, read as the store reads one, and
// a command line for it. Seeds are the appc specification's example image
// manifest and images as rkt's tests build them. Properties: no panic; an
// error for a bad command line is a usage error; a built pod manifest
// passes the appc schema and what checkPodManifest asserts, every mount
// names a declared volume, and every mount point of every app is covered.
func FuzzImageManifest(f *testing.F) {
	lines := []string{
		"",
		"--name=web\n--exec=/bin/sh\n--\n-c\ntrue\n---\n--volume=work,kind=empty\n--mount=volume=work,target=/var/lib/work",
		"--port=health:4000\n--environment=A=1\n--set-env=B=2\n--user=0\n--group=0",
		"--memory=1G\n--caps-remove=CAP_SYS_ADMIN\n--seccomp=mode=retain,read,write",
		"--volume=data,kind=host,source=/srv\n--port=www:127.0.0.1:8080",
	}
	for _, m := range readSeeds(f, "image-manifest-*.json") {
		for _, l := range lines {
			f.Add(m, l)
		}
	}
	f.Fuzz(func(t *testing.T, manifest []byte, in string) {
		var im schema.ImageManifest
		if err := acimanifest.UnmarshalImage(manifest, &im); err != nil {
			return
		}
		args, ok := fuzzArgs(in)
		if !ok {
			return
		}
		plan := &Plan{Command: "run"}
		if err := Parse(append([]string{"example.com/app"}, args...), plan); err != nil {
			return
		}
		images := make([]ResolvedImage, len(plan.Apps))
		for i := range images {
			images[i] = ResolvedImage{Key: "sha512-" + strings.Repeat("0", 63) + strconv.Itoa(i%10), Manifest: &im}
		}
		pm, err := Manifest(plan, images)
		if err != nil {
			if !errors.Is(err, ErrUsage) && !strings.HasPrefix(err.Error(), "building pod manifest") {
				t.Fatalf("Manifest: %v", err)
			}
			return
		}
		checkPodManifest(t, pm)
		declared := map[types.ACName]bool{}
		for _, v := range pm.Volumes {
			declared[v.Name] = true
		}
		for _, ra := range pm.Apps {
			for _, m := range ra.Mounts {
				if !declared[m.Volume] {
					t.Fatalf("app %q mounts the undeclared volume %q", ra.Name, m.Volume)
				}
			}
			for _, mp := range ra.App.MountPoints {
				if !declared[mp.Name] && !mountedAt(ra.Mounts, mp) {
					t.Fatalf("app %q: mount point %+v is covered by no volume", ra.Name, mp)
				}
			}
		}
	})
}
