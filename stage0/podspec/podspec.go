// Package podspec describes a pod from the command line of `rkt run` and
// `rkt prepare` and turns that description (a Plan) and its resolved images
// into the pod manifest.
//
// The grammar of the command line (where each flag may be given, images,
// "-- ARGS ---") is stage0/runargs'; this package supplies its flags: the
// names, usage and setters that check each value and record it in the
// Plan (see initFlagDefs), and the checks of the whole (finish).
//
// Invariants: every name that later becomes a path (app names, volume
// names, network names) is validated here, before it is used; a bad command
// line is always an error matching ErrUsage; reading does no I/O except
// reading the file given to --set-env-file. Values that stage1 interprets
// (--net, the isolator flags, --port) are checked with the grammars stage1
// shares (common/netspec, common/isospec), used here for parsing only, so
// that stage0 refuses exactly what stage1 would.
package podspec

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/spf13/pflag"

	"github.com/rkt/rkt/common/netspec"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage0/runargs"
)

// App is one image of the pod with the overrides given after it.
type App struct {
	Image             string // as given: a name, an ID, a path or a URL
	Signature         string // --signature
	Name              string // --name ("" : from the image's name)
	Exec              []string
	Args              []string // -- args ---
	User, Group       string
	SupplementaryGIDs []int
	WorkingDir        string
	ReadOnlyRootfs    bool
	Environment       map[string]string // --environment
	Mounts            []schema.Mount    // --mount (schema.Mount)
	Annotations       map[string]string
	UserAnnotations   map[string]string
	UserLabels        map[string]string

	// Isolator flags: --memory and --cpu (quantities: "512M", "500m"),
	// --cpu-shares, --oom-score-adj, --caps-retain or --caps-remove
	// (comma-separated capability names), --seccomp
	// (mode=retain|remove[,errno=E],SYSCALL,...). See Isolators.
	Memory, CPU            string
	CPUShares, OOMScoreAdj *int
	CapsRetain, CapsRemove string
	Seccomp                string
}

// Stage1Choice holds the --stage1-* flags; at most one is set.
type Stage1Choice struct{ Path, URL, Name, Hash, FromDir string }

// Set reports whether a --stage1-* flag was given.
func (c Stage1Choice) Set() bool { return c != Stage1Choice{} }

// Plan is a parsed run or prepare command line.
type Plan struct {
	// Command is "run" (the default when empty) or "prepare"; set it before
	// reading a command line, which accepts the flags of that command.
	Command string

	Apps    []App
	Volumes []types.Volume
	Ports   []types.ExposedPort
	// Mounts are the --mount flags given before the first image: rkt 1.30
	// (and Nomad's rkt driver, which puts them there) mounts them into
	// every app, after the app's own --mount flags (see MergeMounts).
	Mounts []schema.Mount
	// Runtime holds the pod-wide settings (Hostname empty: rkt-<uuid>,
	// NetList defaults to ["default"] and is checked with
	// netspec.ParseNetFlag). Runtime.SetEnv is --set-env-file overridden by
	// --set-env. Runtime.PrivateUsers is "auto" with --private-users;
	// Runtime.IPC is --ipc. Runtime.Ports is left empty: ForwardedPorts
	// resolves Ports once the images are known.
	Runtime podlayout.RuntimeConfig
	// InheritEnv (--inherit-env): the environment of the rkt process fills
	// in every app's environment where neither the image nor a flag set a
	// variable (read by Manifest).
	InheritEnv      bool
	IPC             string // --ipc: "", "auto", "private", "parent" (also in Runtime.IPC)
	PodManifestFile string
	NoOverlay       bool
	MDSRegister     bool
	UUIDFileSave    string
	PullPolicy      string // "new" (default), "update", "never"
	Stage1          Stage1Choice
	Quiet           bool // prepare --quiet
	// Warnings are notices for the user (deprecated flags), for stderr.
	Warnings []string
}

// flagDef is one flag of run or prepare: its name, where it may be given
// (runargs' grammar), and its setter.
type flagDef struct {
	name, usage string
	scope       runargs.Scope
	isBool      bool
	noOptDef    string // value of the bare form, for flags with an optional value
	hidden      bool   // deprecated aliases
	set         func(p *parser, v string) error
}

// flagDefs is built on first use (flagDefsOnce), not at program start:
// most rkt commands never read a run or prepare command line.
var (
	flagDefs     []flagDef
	flagDefsOnce sync.Once
)

func initFlagDefs() {
	const (
		app      = runargs.App
		appOrPod = runargs.AppOrPod
		pod      = runargs.Pod
		run      = runargs.RunOnly
		prepare  = runargs.PrepareOnly
	)
	flagDefs = []flagDef{
		// Per image.
		{name: "exec", scope: app, set: (*parser).setExec, usage: "override the exec command of the preceding image"},
		{name: "name", scope: app, set: (*parser).setName, usage: "name of the preceding image's app (default: from the image's name)"},
		{name: "user", scope: app, set: (*parser).setUser, usage: "user (name or uid) to run the preceding image's app as"},
		{name: "group", scope: app, set: (*parser).setGroup, usage: "group (name or gid) to run the preceding image's app as"},
		{name: "supplementary-gids", scope: app, set: (*parser).setSupplementaryGIDs, usage: "supplementary group IDs of the preceding image's app (example: 1024,2048)"},
		{name: "working-dir", scope: app, set: (*parser).setWorkingDir, usage: "override the working directory of the preceding image"},
		{name: "readonly-rootfs", scope: app, isBool: true, set: (*parser).setReadOnlyRootfs, usage: "mount the preceding image's app's rootfs read-only"},
		{name: "environment", scope: app, set: (*parser).setEnvironment, usage: "set an environment variable of the preceding image's app: NAME=VALUE"},
		{name: "mount", scope: appOrPod, set: (*parser).setMount, usage: "mount a volume into the preceding image's app (before any image: into every app): volume=NAME,target=PATH"},
		{name: "signature", scope: app, set: (*parser).setSignature, usage: "local signature file of the preceding image"},
		{name: "annotation", scope: app, set: (*parser).setAnnotation, usage: "set an annotation of the preceding image's app: NAME=VALUE"},
		{name: "user-annotation", scope: app, set: (*parser).setUserAnnotation, usage: "set a user annotation of the preceding image's app: KEY=VALUE"},
		{name: "user-label", scope: app, set: (*parser).setUserLabel, usage: "set a user label of the preceding image's app: KEY=VALUE"},
		{name: "memory", scope: app, set: appString("memory", func(a *App) *string { return &a.Memory }), usage: "memory limit of the preceding image's app (example: 512M, 1G)"},
		{name: "cpu", scope: app, set: appString("cpu", func(a *App) *string { return &a.CPU }), usage: "CPU limit of the preceding image's app (example: 500m)"},
		{name: "cpu-shares", scope: app, set: appInt("cpu-shares", "a number from 2 to 262144", func(a *App) **int { return &a.CPUShares }), usage: "CPU time share weight of the preceding image's app (2 to 262144)"},
		{name: "oom-score-adj", scope: app, set: appInt("oom-score-adj", "a number from -1000 to 1000", func(a *App) **int { return &a.OOMScoreAdj }), usage: "OOM score adjustment of the preceding image's app (-1000 to 1000)"},
		{name: "caps-retain", scope: app, set: appString("caps-retain", func(a *App) *string { return &a.CapsRetain }), usage: "capabilities the preceding image's app keeps (example: CAP_NET_BIND_SERVICE,CAP_CHOWN)"},
		{name: "caps-remove", scope: app, set: appString("caps-remove", func(a *App) *string { return &a.CapsRemove }), usage: "capabilities removed from the preceding image's app (example: CAP_MKNOD)"},
		{name: "seccomp", scope: app, set: appString("seccomp", func(a *App) *string { return &a.Seccomp }), usage: "seccomp filter of the preceding image's app: mode=retain|remove[,errno=E],SYSCALL,..."},

		// Pod, run and prepare.
		{name: "volume", scope: pod, set: (*parser).setVolume, usage: "volume to make available in the pod: NAME,kind=host,source=PATH[,readOnly=BOOL][,recursive=BOOL] or NAME,kind=empty[,mode=MODE][,uid=UID][,gid=GID]"},
		{name: "port", scope: pod, set: (*parser).setPort, usage: "port to expose on the host (needs a contained network): NAME:[HOSTIP:]HOSTPORT"},
		{name: "set-env", scope: pod, set: (*parser).setSetEnv, usage: "environment variable for every app: NAME=VALUE (overridden by --environment)"},
		{name: "set-env-file", scope: pod, set: (*parser).setSetEnvFile, usage: "file of NAME=VALUE lines for every app's environment (overridden by --set-env)"},
		{name: "inherit-env", scope: pod, isBool: true, set: func(p *parser, v string) error { p.plan.InheritEnv = v == "true"; return nil }, usage: "inherit the environment variables of rkt that no image or flag sets"},
		{name: "pull-policy", scope: pod, set: (*parser).setPullPolicy, usage: "when to fetch an image: new (when not in the store), update or never (default new)"},
		{name: "pod-manifest", scope: pod, set: func(p *parser, v string) error { p.plan.PodManifestFile = v; return nonEmpty("pod-manifest", v) }, usage: "path to a pod manifest to run instead of images (only --net, --no-overlay, --interactive and --stage1-* go with it)"},
		{name: "no-overlay", scope: pod, isBool: true, set: func(p *parser, v string) error { p.plan.NoOverlay = v == "true"; return nil }, usage: "copy the images' trees instead of mounting them with overlayfs"},
		{name: "uuid-file-save", scope: pod, set: func(p *parser, v string) error { p.plan.UUIDFileSave = v; return nonEmpty("uuid-file-save", v) }, usage: "write the pod's UUID to this file"},
		{name: "stage1-path", scope: pod, set: func(p *parser, v string) error { p.plan.Stage1.Path = v; return nonEmpty("stage1-path", v) }, usage: "stage1 image to use: a file path"},
		{name: "stage1-url", scope: pod, set: func(p *parser, v string) error { p.plan.Stage1.URL = v; return nonEmpty("stage1-url", v) }, usage: "stage1 image to use: a URL"},
		{name: "stage1-name", scope: pod, set: func(p *parser, v string) error { p.plan.Stage1.Name = v; return nonEmpty("stage1-name", v) }, usage: "stage1 image to use: an image name"},
		{name: "stage1-hash", scope: pod, set: (*parser).setStage1Hash, usage: "stage1 image to use: an image ID in the store"},
		{name: "stage1-from-dir", scope: pod, set: (*parser).setStage1FromDir, usage: "stage1 image to use: a file name in the stage1 images directory"},
		{name: "store-only", scope: pod, isBool: true, hidden: true, set: (*parser).setStoreOnly, usage: "deprecated: use --pull-policy=never"},
		{name: "no-store", scope: pod, isBool: true, hidden: true, set: (*parser).setNoStore, usage: "deprecated: use --pull-policy=update"},
		{name: "private-users", scope: pod, isBool: true, set: (*parser).setPrivateUsers, usage: "run the pod in a user namespace"},
		{name: "net", scope: run, noOptDef: "default", set: (*parser).setNet, usage: "the pod's networks: default, default-restricted, host, none, all, or net.d networks NAME[:K=V;...], comma-separated; bare --net is default"},
		{name: "dns", scope: run, set: (*parser).setDNS, usage: "name servers to write in /etc/resolv.conf (IPs, or host to use the host's, or none)"},
		{name: "dns-search", scope: run, set: (*parser).setDNSSearch, usage: "DNS search domains to write in /etc/resolv.conf"},
		{name: "dns-opt", scope: run, set: (*parser).setDNSOpt, usage: "DNS options to write in /etc/resolv.conf"},
		{name: "dns-domain", scope: run, set: (*parser).setDNSDomain, usage: "DNS domain to write in /etc/resolv.conf"},
		{name: "hosts-entry", scope: run, set: (*parser).setHostsEntry, usage: "entry of the pod's /etc/hosts: IP=HOSTNAME, or host to use the host's"},
		{name: "hostname", scope: run, set: (*parser).setHostname, usage: `the pod's host name (default "rkt-$PODUUID")`},
		{name: "interactive", scope: run, isBool: true, set: func(p *parser, v string) error { p.plan.Runtime.Interactive = v == "true"; return nil }, usage: "run the pod interactively (one image only)"},
		{name: "mds-register", scope: run, isBool: true, set: func(p *parser, v string) error { p.plan.MDSRegister = v == "true"; return nil }, usage: "register the pod with the metadata service"},
		{name: "ipc", scope: run, set: (*parser).setIPC, usage: "IPC namespace: auto, private or parent"},
		{name: "quiet", scope: prepare, isBool: true, set: func(p *parser, v string) error { p.plan.Quiet = v == "true"; return nil }, usage: "print only the pod's UUID"},
	}
	for _, alias := range [][2]string{{"cap-retain", "caps-retain"}, {"cap-remove", "caps-remove"}} {
		for _, d := range flagDefs {
			if d.name == alias[1] {
				flagDefs = append(flagDefs, flagDef{name: alias[0], scope: app, hidden: true,
					set: deprecatedAlias(alias[0], alias[1], d.set), usage: "deprecated: use --" + alias[1]})
				break
			}
		}
	}
}

// parser is the state of one run or prepare command line being read: the
// plan, and which image the per-image flags apply to. It is runargs'
// Images.
type parser struct {
	plan *Plan
	app  int // index of the image flags apply to; -1 before the first
	seen map[string]bool

	explicitEnv []string // names given with --set-env
	netSet      bool
}

func (p *parser) AddImage(image string) {
	p.plan.Apps = append(p.plan.Apps, App{Image: image})
	p.app = len(p.plan.Apps) - 1
}

func (p *parser) AddArgs(args []string) {
	p.cur().Args = append(p.cur().Args, args...)
}

func (p *parser) InImage() bool { return p.app >= 0 }

// CommandLine reads one run or prepare command line into a Plan with
// runargs' grammar: Register its flags on the command's flag set, let that
// set parse the leading flags, then ParseImages reads the rest and checks
// the whole.
type CommandLine struct{ p *parser }

// NewCommandLine starts reading a command line into plan, whose Command
// ("run", the default, or "prepare") says which flags it accepts.
func NewCommandLine(plan *Plan) (*CommandLine, error) {
	if plan.Command == "" {
		plan.Command = "run"
	}
	if plan.Command != "run" && plan.Command != "prepare" {
		return nil, fmt.Errorf("parsing %s arguments: unknown command", plan.Command)
	}
	if plan.PullPolicy == "" {
		plan.PullPolicy = "new"
	}
	return &CommandLine{&parser{plan: plan, app: -1, seen: map[string]bool{}}}, nil
}

// Register adds the flags of run or prepare to fs.
func (c *CommandLine) Register(fs *pflag.FlagSet) {
	flagDefsOnce.Do(initFlagDefs)
	flags := make([]runargs.Flag, len(flagDefs))
	for i, d := range flagDefs {
		flags[i] = runargs.Flag{Name: d.name, Usage: d.usage, Scope: d.scope, Bool: d.isBool, NoOptDef: d.noOptDef, Hidden: d.hidden,
			Set: func(v string) error {
				c.p.seen[d.name] = true
				return d.set(c.p, v)
			}}
	}
	runargs.Register(fs, c.p.plan.Command, flags, c.p)
}

// ImageFlags names the flags given after an image, which apply to it
// (runargs.App and AppOrPod), deprecated aliases left out, in the order
// help lists them.
func ImageFlags() []string {
	flagDefsOnce.Do(initFlagDefs)
	var names []string
	for _, d := range flagDefs {
		if (d.scope == runargs.App || d.scope == runargs.AppOrPod) && !d.hidden {
			names = append(names, "--"+d.name)
		}
	}
	return names
}

// ParseImages reads the images that follow the leading flags (see
// runargs.ParseImages) and checks the whole command line.
func (c *CommandLine) ParseImages(fs *pflag.FlagSet, args []string, dashFirst bool) error {
	if err := runargs.ParseImages(fs, args, dashFirst, c.p); err != nil {
		return err
	}
	return c.p.finish()
}

// Parse reads args (everything after "run" or "prepare") into plan, whose
// Command says which of the two it is. Errors are usage errors (ErrUsage)
// except for reading --set-env-file; -h or --help gives ErrHelp.
func Parse(args []string, plan *Plan) error {
	return ParseFlags(pflag.NewFlagSet(plan.Command, pflag.ContinueOnError), args, plan)
}

// ParseFlags is Parse with fs holding other flags that the command line may
// give anywhere (the CLI's persistent flags); a "debug" flag among them
// also sets Runtime.Debug.
func ParseFlags(fs *pflag.FlagSet, args []string, plan *Plan) error {
	c, err := NewCommandLine(plan)
	if err != nil {
		return err
	}
	c.Register(fs)
	if err := runargs.Parse(fs, args, c.p); err != nil {
		return err
	}
	if f := fs.Lookup("debug"); f != nil {
		plan.Runtime.Debug = f.Value.String() == "true"
	}
	return c.p.finish()
}

func (p *parser) finish() error {
	plan := p.plan
	n := 0
	for _, s := range []string{plan.Stage1.Path, plan.Stage1.URL, plan.Stage1.Name, plan.Stage1.Hash, plan.Stage1.FromDir} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return usagef("only one of --stage1-path, --stage1-url, --stage1-name, --stage1-hash and --stage1-from-dir may be given")
	}
	if plan.PodManifestFile != "" {
		conflicting := len(plan.Apps) > 0 || len(plan.Mounts) > 0 || plan.PullPolicy == "update"
		for _, f := range []string{"volume", "port", "set-env", "set-env-file", "inherit-env", "store-only", "no-store"} {
			conflicting = conflicting || p.seen[f]
		}
		if conflicting {
			return usagef("conflicting flags set with --pod-manifest (only --net, --no-overlay, --interactive and the --stage1-* flags go with it; see --help)")
		}
	} else if len(plan.Apps) == 0 {
		return usagef("must provide at least one image")
	}
	if plan.Runtime.Interactive && len(plan.Apps) > 1 {
		return usagef("--interactive supports only one image")
	}
	if len(plan.Runtime.NetList) == 0 {
		plan.Runtime.NetList = []string{"default"}
	}
	if _, err := netspec.ParseNetFlag(plan.Runtime.NetList); err != nil {
		return usageWrap(err, "--net=%s", strings.Join(plan.Runtime.NetList, ","))
	}
	for i := range plan.Apps {
		if _, err := plan.Apps[i].Isolators(); err != nil {
			return err
		}
	}
	if len(plan.Runtime.DNS) > 1 {
		for _, d := range plan.Runtime.DNS {
			if d == "host" || d == "none" {
				return usagef("--dns=%s cannot be combined with other --dns values", d)
			}
		}
	}
	if _, ok := plan.Runtime.HostsEntries["host"]; ok && len(plan.Runtime.HostsEntries) > 1 {
		return usagef("--hosts-entry=host cannot be combined with other entries")
	}
	// Names given with --name must be unique; image-derived ones are
	// checked by Manifest.
	names := map[string]bool{}
	for _, a := range plan.Apps {
		if a.Name == "" {
			continue
		}
		if names[a.Name] {
			return usagef("two apps are named %q: give each a different --name", a.Name)
		}
		names[a.Name] = true
	}
	vols := map[string]bool{}
	for _, v := range plan.Volumes {
		if vols[v.Name.String()] {
			return usagef("volume %q is given twice", v.Name)
		}
		vols[v.Name.String()] = true
	}
	return nil
}

func nonEmpty(flag, v string) error {
	if v == "" {
		return usagef("--%s needs a non-empty value", flag)
	}
	return nil
}

func (p *parser) cur() *App { return &p.plan.Apps[p.app] }

// once refuses a per-image flag given twice for one image.
func (p *parser) once(flag string, set bool) error {
	if set {
		return usagef("--%s given twice for image %q", flag, p.cur().Image)
	}
	return nil
}

func (p *parser) setExec(v string) error {
	if err := p.once("exec", len(p.cur().Exec) > 0); err != nil {
		return err
	}
	if v == "" {
		return usagef("--exec needs a command")
	}
	p.cur().Exec = []string{v}
	return nil
}

func (p *parser) setName(v string) error {
	if err := p.once("name", p.cur().Name != ""); err != nil {
		return err
	}
	if err := podlayout.ValidAppName(v); err != nil {
		return usagef("--name: %v (lowercase letters, digits and single inner dashes)", err)
	}
	p.cur().Name = v
	return nil
}

func (p *parser) setUser(v string) error {
	if v == "" || strings.ContainsAny(v, ":\n\x00") {
		return usagef("--user=%q: want a user name or a uid", v)
	}
	p.cur().User = v
	return nil
}

func (p *parser) setGroup(v string) error {
	if v == "" || strings.ContainsAny(v, ":\n\x00") {
		return usagef("--group=%q: want a group name or a gid", v)
	}
	p.cur().Group = v
	return nil
}

func (p *parser) setSupplementaryGIDs(v string) error {
	var gids []int
	for _, s := range strings.Split(v, ",") {
		g, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return usagef("--supplementary-gids=%q: want a comma-separated list of gids", v)
		}
		gids = append(gids, int(g))
	}
	p.cur().SupplementaryGIDs = gids
	return nil
}

func (p *parser) setWorkingDir(v string) error {
	if !path.IsAbs(v) || strings.ContainsRune(v, 0) {
		return usagef("--working-dir=%q: want an absolute path", v)
	}
	p.cur().WorkingDir = v
	return nil
}

func (p *parser) setReadOnlyRootfs(v string) error {
	p.cur().ReadOnlyRootfs = v == "true"
	return nil
}

var envName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z_0-9.-]*$`) })

// keyValue splits "k=v" for flag, checking the key with valid.
func keyValue(flag, v string, valid func(string) bool) (string, string, error) {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" || !valid(k) {
		return "", "", usagef("--%s=%q: want NAME=VALUE", flag, v)
	}
	return k, val, nil
}

func validEnvName(k string) bool { return envName().MatchString(k) }

func validIdentifier(k string) bool {
	_, err := types.NewACIdentifier(k)
	return err == nil
}

func anyKey(k string) bool { return !strings.ContainsAny(k, "\n\x00") }

// checkEnvValue refuses a value a pod cannot carry (ErrInvalidEnv).
func checkEnvValue(where, k, val string) error {
	if !utf8.ValidString(val) || strings.ContainsRune(val, 0) {
		return &UsageError{Msg: fmt.Sprintf("%s: %v: %s is not valid UTF-8 without NUL bytes", where, ErrInvalidEnv, k), Err: ErrInvalidEnv}
	}
	return nil
}

func (p *parser) setEnvironment(v string) error {
	k, val, err := keyValue("environment", v, validEnvName)
	if err != nil {
		return err
	}
	if err := checkEnvValue("--environment", k, val); err != nil {
		return err
	}
	a := p.cur()
	if a.Environment == nil {
		a.Environment = map[string]string{}
	}
	a.Environment[k] = val
	return nil
}

func (p *parser) setMount(v string) error {
	var vol, target string
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(kv, "=")
		switch k {
		case "volume":
			vol = val
		case "target":
			target = val
		default:
			return usagef("--mount=%q: unknown key %q (want volume=NAME,target=PATH)", v, k)
		}
	}
	name, err := types.NewACName(vol)
	if err != nil {
		return usagef("--mount=%q: volume name %q: %v", v, vol, err)
	}
	if err := checkTarget(target); err != nil {
		return usagef("--mount=%q: %v", v, err)
	}
	m := schema.Mount{Volume: *name, Path: target}
	if p.app < 0 {
		p.plan.Mounts = append(p.plan.Mounts, m)
		return nil
	}
	p.cur().Mounts = append(p.cur().Mounts, m)
	return nil
}

// MergeMounts is an app's mounts: its own, then the pod-wide ones, each
// mount point (by its cleaned path) taken once, first come first kept, as
// rkt 1.30 merged them.
func MergeMounts(app, pod []schema.Mount) []schema.Mount {
	var out []schema.Mount
	seen := map[string]bool{}
	for _, m := range append(append([]schema.Mount(nil), app...), pod...) {
		if p := path.Clean(m.Path); !seen[p] {
			seen[p] = true
			out = append(out, m)
		}
	}
	return out
}

// checkTarget accepts an absolute path without ".." elements.
func checkTarget(target string) error {
	if !path.IsAbs(target) || strings.ContainsRune(target, 0) {
		return fmt.Errorf("target %q is not an absolute path", target)
	}
	for _, el := range strings.Split(target, "/") {
		if el == ".." {
			return fmt.Errorf("target %q contains \"..\"", target)
		}
	}
	return nil
}

func (p *parser) setSignature(v string) error {
	if err := p.once("signature", p.cur().Signature != ""); err != nil {
		return err
	}
	p.cur().Signature = v
	return nonEmpty("signature", v)
}

func setKV(m *map[string]string, k, v string) {
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[k] = v
}

func (p *parser) setAnnotation(v string) error {
	k, val, err := keyValue("annotation", v, validIdentifier)
	if err != nil {
		return err
	}
	setKV(&p.cur().Annotations, k, val)
	return nil
}

func (p *parser) setUserAnnotation(v string) error {
	k, val, err := keyValue("user-annotation", v, anyKey)
	if err != nil {
		return err
	}
	setKV(&p.cur().UserAnnotations, k, val)
	return nil
}

func (p *parser) setUserLabel(v string) error {
	k, val, err := keyValue("user-label", v, anyKey)
	if err != nil {
		return err
	}
	setKV(&p.cur().UserLabels, k, val)
	return nil
}

func (p *parser) setVolume(v string) error {
	vol, err := types.VolumeFromString(v)
	if err != nil {
		return usagef("--volume=%q: %v (want NAME,kind=host,source=PATH[,readOnly=BOOL][,recursive=BOOL] or NAME,kind=empty[,mode=MODE][,uid=UID][,gid=GID])", v, err)
	}
	if vol.Kind == "host" && strings.ContainsRune(vol.Source, 0) {
		return usagef("--volume=%q: invalid source", v)
	}
	if err := ValidateVolume(*vol); err != nil {
		return &UsageError{Msg: fmt.Sprintf("--volume=%q: %v", v, err), Err: err}
	}
	p.plan.Volumes = append(p.plan.Volumes, *vol)
	return nil
}

// setPort reads NAME:[HOSTIP:]HOSTPORT.
func (p *parser) setPort(v string) error {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return usagef("--port=%q: want NAME:[HOSTIP:]HOSTPORT", v)
	}
	name, err := types.NewACName(parts[0])
	if err != nil {
		return usagef("--port=%q: port name: %v", v, err)
	}
	hostPort, err := strconv.ParseUint(parts[len(parts)-1], 10, 16)
	if err != nil || hostPort == 0 {
		return usagef("--port=%q: host port must be a number from 1 to 65535", v)
	}
	ep := types.ExposedPort{Name: *name, HostPort: uint(hostPort)}
	if len(parts) == 3 {
		if ep.HostIP = net.ParseIP(parts[1]); ep.HostIP == nil {
			return usagef("--port=%q: invalid host IP %q", v, parts[1])
		}
	}
	p.plan.Ports = append(p.plan.Ports, ep)
	return nil
}

func (p *parser) setSetEnv(v string) error {
	k, val, err := keyValue("set-env", v, validEnvName)
	if err != nil {
		return err
	}
	if err := checkEnvValue("--set-env", k, val); err != nil {
		return err
	}
	setKV(&p.plan.Runtime.SetEnv, k, val)
	p.explicitEnv = append(p.explicitEnv, k)
	return nil
}

// setSetEnvFile reads NAME=VALUE lines (blank lines and lines starting
// with '#' are skipped). Variables from --set-env win over the file's,
// whatever the order of the flags.
func (p *parser) setSetEnvFile(v string) error {
	data, err := os.ReadFile(v)
	if err != nil {
		return fmt.Errorf("reading --set-env-file: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, val, ok := strings.Cut(line, "=")
		if !ok || !validEnvName(k) {
			return usagef("--set-env-file %s, line %d: want NAME=VALUE", v, n)
		}
		if p.isExplicit(k) {
			continue
		}
		if err := checkEnvValue(fmt.Sprintf("--set-env-file %s, line %d", v, n), k, val); err != nil {
			return err
		}
		setKV(&p.plan.Runtime.SetEnv, k, val)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading --set-env-file %s: %w", v, err)
	}
	return nil
}

func (p *parser) isExplicit(k string) bool {
	for _, e := range p.explicitEnv {
		if e == k {
			return true
		}
	}
	return false
}

func (p *parser) setPullPolicy(v string) error {
	switch v {
	case "new", "update", "never":
		p.plan.PullPolicy = v
		return nil
	}
	return usagef("--pull-policy=%q: want new, update or never", v)
}

func (p *parser) setStoreOnly(v string) error {
	if v == "true" {
		p.plan.PullPolicy = "never"
		p.plan.Warnings = append(p.plan.Warnings, "--store-only is deprecated: use --pull-policy=never")
	}
	return nil
}

func (p *parser) setNoStore(v string) error {
	if v == "true" {
		p.plan.PullPolicy = "update"
		p.plan.Warnings = append(p.plan.Warnings, "--no-store is deprecated: use --pull-policy=update")
	}
	return nil
}

func (p *parser) setStage1Hash(v string) error {
	h := strings.TrimPrefix(v, "sha512-")
	if len(h) < 2 || strings.Trim(h, "0123456789abcdef") != "" {
		return usagef("--stage1-hash=%q: want an image ID (sha512-HEX)", v)
	}
	p.plan.Stage1.Hash = v
	return nil
}

func (p *parser) setStage1FromDir(v string) error {
	if v == "" || v == "." || v == ".." || strings.ContainsAny(v, "/\x00") {
		return usagef("--stage1-from-dir=%q: want a file name in the stage1 images directory", v)
	}
	p.plan.Stage1.FromDir = v
	return nil
}

func (p *parser) setNet(v string) error {
	if p.netSet {
		p.plan.Runtime.NetList = append(p.plan.Runtime.NetList, splitList(v)...)
	} else {
		p.plan.Runtime.NetList = splitList(v)
	}
	p.netSet = true
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) setDNS(v string) error {
	for _, d := range splitList(v) {
		if d != "host" && d != "none" && net.ParseIP(d) == nil {
			return usagef("--dns=%q: want IP addresses, host or none", v)
		}
		p.plan.Runtime.DNS = append(p.plan.Runtime.DNS, d)
	}
	return nil
}

// resolvWord accepts what may stand as one word of resolv.conf.
func resolvWord(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\r\n\x00#;")
}

func (p *parser) setDNSSearch(v string) error {
	for _, d := range splitList(v) {
		if !resolvWord(d) {
			return usagef("--dns-search=%q: invalid domain %q", v, d)
		}
		p.plan.Runtime.DNSSearch = append(p.plan.Runtime.DNSSearch, d)
	}
	return nil
}

func (p *parser) setDNSOpt(v string) error {
	for _, d := range splitList(v) {
		if !resolvWord(d) {
			return usagef("--dns-opt=%q: invalid option %q", v, d)
		}
		p.plan.Runtime.DNSOpt = append(p.plan.Runtime.DNSOpt, d)
	}
	return nil
}

func (p *parser) setDNSDomain(v string) error {
	if !validHostname(v) {
		return usagef("--dns-domain=%q: invalid domain", v)
	}
	p.plan.Runtime.DNSDomain = v
	return nil
}

// setHostsEntry reads "IP=HOSTNAME" (repeatable) or "host" (use the
// host's /etc/hosts, recorded as the key "host" with no names).
func (p *parser) setHostsEntry(v string) error {
	rt := &p.plan.Runtime
	if rt.HostsEntries == nil {
		rt.HostsEntries = map[string][]string{}
	}
	if v == "host" {
		rt.HostsEntries["host"] = nil
		return nil
	}
	ip, names, ok := strings.Cut(v, "=")
	if !ok || net.ParseIP(ip) == nil {
		return usagef("--hosts-entry=%q: want IP=HOSTNAME or host", v)
	}
	for _, h := range splitList(names) {
		if !validHostname(h) {
			return usagef("--hosts-entry=%q: invalid host name %q", v, h)
		}
		rt.HostsEntries[ip] = append(rt.HostsEntries[ip], h)
	}
	if len(rt.HostsEntries[ip]) == 0 {
		return usagef("--hosts-entry=%q: want IP=HOSTNAME or host", v)
	}
	return nil
}

// validHostname accepts RFC 1123 host names: dot-separated labels of
// letters, digits and inner dashes, at most 63 bytes each and 253 in all.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func (p *parser) setHostname(v string) error {
	if !validHostname(v) {
		return usagef("--hostname=%q: invalid host name", v)
	}
	p.plan.Runtime.Hostname = v
	return nil
}

func (p *parser) setIPC(v string) error {
	switch v {
	case "auto", "private", "parent":
		p.plan.IPC = v
		p.plan.Runtime.IPC = v
		return nil
	}
	return usagef("--ipc=%q: want auto, private or parent", v)
}

// setPrivateUsers records --private-users: the pod gets a user namespace
// whose range stage1 picks ("auto").
func (p *parser) setPrivateUsers(v string) error {
	p.plan.Runtime.PrivateUsers = ""
	if v == "true" {
		p.plan.Runtime.PrivateUsers = "auto"
	}
	return nil
}

// DNSConfMode is the run entrypoint's --dns-conf-mode for the plan
// (rkt's rules): resolv=host|none with --dns=host|none, stage0 when any DNS
// setting is given, default otherwise; hosts=host with --hosts-entry=host,
// stage0 with entries, default otherwise.
func (plan *Plan) DNSConfMode() string {
	rt := &plan.Runtime
	resolv := "default"
	switch {
	case len(rt.DNS) == 1 && (rt.DNS[0] == "host" || rt.DNS[0] == "none"):
		resolv = rt.DNS[0]
	case len(rt.DNS) > 0 || len(rt.DNSSearch) > 0 || len(rt.DNSOpt) > 0 || rt.DNSDomain != "":
		resolv = "stage0"
	}
	hosts := "default"
	if _, ok := rt.HostsEntries["host"]; ok {
		hosts = "host"
	} else if len(rt.HostsEntries) > 0 {
		hosts = "stage0"
	}
	return "resolv=" + resolv + ",hosts=" + hosts
}
