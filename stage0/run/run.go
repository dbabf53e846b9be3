// Package run is stage0's side of a pod's life: prepare (resolve and fetch
// the images, choose and load the stage1 image, lay out the pod
// directory), run (mount the rootfs and exec the stage1 run entrypoint
// with the pod lock), run-prepared, enter, stop, and the stage1 gc hook.
//
// Preparing, in order:
//
//	locks/prepare (shared)          held until the pod is prepared or exec'd; image gc takes it exclusive
//	images -> store keys            fetch.Fetcher with the plan's pull policy (verified); trees rendered
//	--port -> RuntimeConfig.Ports   podspec.ForwardedPorts against the apps' ports (usage error if unknown)
//	stage1 -> store key             --stage1-*, stage1.d, the build's default (beside the binary, images dir)
//	pods/prepare/<uuid>             pod.Create: locked; then, shared tree locks held:
//	  pod, runtime-config           atomically (common/atomicfile)
//	  stage1TreeStoreID, stage1/manifest, appsinfo/<app>/{manifest,treeStoreID}
//	  overlay/<tree>/{upper,work}[/<app>] + overlay-prepared     (overlay), or
//	  stage1/rootfs, .../opt/stage2/<app>/rootfs copied          (--no-overlay)
//	  sharedVolumes/<vol>           kind=empty volumes, mode/uid/gid applied
//	pods/prepared/<uuid>            Prepare; or pods/run/<uuid> for Run
//
// Invariants:
//   - every name from a user or an image (app names, volume names, UUIDs,
//     entrypoint paths) is validated before it becomes part of a path;
//   - files inside a pod being prepared are written once into its fresh,
//     locked directory; only the manifest and runtime-config are replaced
//     later, and those are written atomically. A crash while preparing
//     leaves an unlocked pods/prepare/<uuid>, an "aborted prepare" that gc
//     removes;
//   - overlay mounts are made only just before exec'ing stage1 (Run,
//     RunPrepared) and before the stage1 gc entrypoint: they do not
//     survive a reboot, the upper and work directories do;
//   - trees are rendered once by the store and never copied unless
//     --no-overlay is given or overlayfs is unusable for the data dir.
package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/entrypoint"
	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/common/idmap"
	"github.com/rkt/rkt/common/netspec"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage0/fetch"
	"github.com/rkt/rkt/stage0/insecure"
	"github.com/rkt/rkt/stage0/metadata"
	"github.com/rkt/rkt/stage0/pod"
	"github.com/rkt/rkt/stage0/podspec"
	"github.com/rkt/rkt/store"
	"github.com/rkt/rkt/store/index"
)

// Config is what every operation needs; the CLI fills it from the global
// flags and the configuration.
type Config struct {
	DataDir, LocalConfig, SystemConfig, UserConfig string
	Store                                          ImageStore
	Fetcher                                        *fetch.Fetcher // its PullPolicy is replaced by the plan's
	// Stage1 is the build's choice of stage1 images (see chooseStage1).
	Stage1 Stage1Build
	// Stage1Default, when set, is the default stage1 location if Stage1
	// names none: a file trusted without a signature.
	Stage1Default string
	Insecure      insecure.Set
	Debug         bool
	Log           *slog.Logger
	// Stdout and Stderr receive the output of the stage1 stop and gc
	// entrypoints (nil: discarded).
	Stdout, Stderr io.Writer
	// MDSSocket is the metadata service's registration socket (empty:
	// metadata.DefaultSocketPath).
	MDSSocket string
}

// ImageStore is what stage0/run uses of the image store (*store.Store):
// the images' keys, manifests and rendered trees, and the stage1 images it
// ingests itself.
type ImageStore interface {
	ResolveKey(prefix string) (string, error)
	FindByName(name string, labels map[string]string) (string, error)
	Image(key string) (index.Image, error)
	Manifest(key string) (*schema.ImageManifest, []byte, error)
	Remote(aciURL string) (*index.Remote, error)
	PutRemote(r index.Remote) error
	NewIngest() (*store.Ingest, error)
	Touch(key string) error
	Render(ctx context.Context, key string) (treeID string, err error)
	RenderManifest(ctx context.Context, key string) (treeID string, _ *schema.ImageManifest, raw []byte, _ error)
	TreePath(id string) string
	HoldTrees(ids []string) (release func(), err error)
}

func (cfg *Config) log() *slog.Logger {
	if cfg.Log != nil {
		return cfg.Log
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// RunOverrides are run-prepared's flags; zero fields keep what was
// prepared.
type RunOverrides struct {
	Net                    []string
	DNS, DNSSearch, DNSOpt []string
	DNSDomain              string
	HostsEntries           map[string][]string
	Hostname               string
	Interactive            bool
	MDSRegister            bool
	IPC                    string
}

// DefaultFlavor is the stage1 flavor used when nothing chooses one.
const DefaultFlavor = "nspawn"

// prepareLockPath is <data dir>/locks/prepare: shared by every prepare,
// exclusive for image gc, so that gc never removes a tree a pod is being
// laid out on.
func prepareLockPath(dataDir string) string { return filepath.Join(dataDir, "locks", "prepare") }

// LockPrepare takes the prepare lock (shared by prepare and run; image gc
// takes it exclusive to see no pod half-prepared).
func LockPrepare(dataDir string, mode flock.Mode) (*flock.Lock, error) {
	if err := os.MkdirAll(filepath.Join(dataDir, "locks"), 0o750); err != nil {
		return nil, fmt.Errorf("taking the prepare lock: %w", err)
	}
	l, err := flock.LockPath(prepareLockPath(dataDir), mode, true, true)
	if err != nil {
		return nil, fmt.Errorf("taking the prepare lock: %w", err)
	}
	return l, nil
}

// resolved is an image of the pod as found in the store.
type resolved struct {
	key      string
	treeID   string
	manifest *schema.ImageManifest
	raw      []byte
}

// preparedPod is what prepare leaves for launch.
type preparedPod struct {
	pod      *pod.Pod
	manifest *schema.PodManifest
	rc       *podlayout.RuntimeConfig
	stage1   *schema.ImageManifest
	images   map[string]*schema.ImageManifest // by app name
}

// Prepare lays out a pod for plan and leaves it in prepared/ (rkt
// prepare). The returned pod's lock is released.
func Prepare(ctx context.Context, cfg Config, plan *podspec.Plan) (*pod.Pod, error) {
	pp, err := prepare(ctx, &cfg, plan)
	if err != nil {
		return nil, err
	}
	if err := syncPod(pp.pod.Path); err != nil {
		pp.pod.Abort()
		return nil, fmt.Errorf("preparing pod %s: %w", pp.pod.UUID, err)
	}
	if err := pp.pod.Prepared(); err != nil {
		pp.pod.Abort()
		return nil, fmt.Errorf("preparing pod %s: %w", pp.pod.UUID, err)
	}
	return pp.pod, nil
}

// Run prepares a pod for plan and execs the stage1 run entrypoint in it,
// holding the pod lock (rkt run). It returns only on error.
func Run(ctx context.Context, cfg Config, plan *podspec.Plan) error {
	pp, err := prepare(ctx, &cfg, plan)
	if err != nil {
		return err
	}
	if plan.MDSRegister {
		if err := registerMDS(ctx, &cfg, pp); err != nil {
			pp.pod.Abort()
			return err
		}
	}
	return launch(&cfg, pp, nil)
}

// RunPrepared runs a prepared pod (rkt run-prepared).
func RunPrepared(ctx context.Context, cfg Config, uuid string, rt RunOverrides) error {
	p, err := pod.Get(cfg.DataDir, uuid)
	if err != nil {
		return fmt.Errorf("running prepared pod %s: %w", uuid, err)
	}
	if p.State != pod.Prepared {
		return fmt.Errorf("running prepared pod %s: %w", p.UUID, &pod.StateError{UUID: p.UUID, State: p.State, Op: "running prepared pod"})
	}
	if len(rt.Net) > 0 {
		if _, err := netspec.ParseNetFlag(rt.Net); err != nil {
			return &podspec.UsageError{Msg: "--net=" + strings.Join(rt.Net, ",") + ": " + err.Error(), Err: err}
		}
	}
	pp, err := loadPrepared(p)
	if err != nil {
		return err
	}
	if err := checkForStage1(&cfg, pp.stage1, len(pp.manifest.Apps), rt.Net); err != nil {
		return err
	}
	// The overrides are written once the pod is ours (locked, in run/):
	// two run-prepared of one pod must not both write its config.
	return launch(&cfg, pp, func() error {
		applyOverrides(pp.rc, rt)
		if rt.MDSRegister {
			return registerMDS(ctx, &cfg, pp)
		}
		return pp.rc.Write(podlayout.RuntimeConfigPath(p.Path))
	})
}

func applyOverrides(rc *podlayout.RuntimeConfig, rt RunOverrides) {
	if len(rt.Net) > 0 {
		rc.NetList = rt.Net
	}
	if len(rt.DNS) > 0 {
		rc.DNS = rt.DNS
	}
	if len(rt.DNSSearch) > 0 {
		rc.DNSSearch = rt.DNSSearch
	}
	if len(rt.DNSOpt) > 0 {
		rc.DNSOpt = rt.DNSOpt
	}
	if rt.DNSDomain != "" {
		rc.DNSDomain = rt.DNSDomain
	}
	if len(rt.HostsEntries) > 0 {
		rc.HostsEntries = rt.HostsEntries
	}
	if rt.Hostname != "" {
		rc.Hostname = rt.Hostname
	}
	if rt.Interactive {
		rc.Interactive = true
	}
	if rt.IPC != "" {
		rc.IPC = rt.IPC
	}
}

// loadPrepared reads back what prepare wrote.
func loadPrepared(p *pod.Pod) (*preparedPod, error) {
	pm, _, err := p.Manifest()
	if err != nil {
		return nil, fmt.Errorf("running prepared pod %s: %w", p.UUID, err)
	}
	rc, err := podlayout.ReadRuntimeConfig(podlayout.RuntimeConfigPath(p.Path))
	if err != nil {
		return nil, fmt.Errorf("running prepared pod %s: %w", p.UUID, err)
	}
	s1, err := readImageManifest(podlayout.Stage1Manifest(p.Path))
	if err != nil {
		return nil, fmt.Errorf("running prepared pod %s: %w", p.UUID, err)
	}
	images := map[string]*schema.ImageManifest{}
	for _, ra := range pm.Apps {
		name := ra.Name.String()
		if err := podlayout.ValidAppName(name); err != nil {
			return nil, fmt.Errorf("running prepared pod %s: %w", p.UUID, err)
		}
		im, err := readImageManifest(podlayout.AppsInfoManifest(p.Path, name))
		if err != nil {
			return nil, fmt.Errorf("running prepared pod %s: %w", p.UUID, err)
		}
		images[name] = im
	}
	return &preparedPod{pod: p, manifest: pm, rc: rc, stage1: s1, images: images}, nil
}

func readImageManifest(path string) (*schema.ImageManifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading image manifest: %w", err)
	}
	var im schema.ImageManifest
	if err := im.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("reading image manifest %s: %w", path, err)
	}
	return &im, nil
}

// registerMDS registers the pod with the metadata service and records the
// token and URL.
func registerMDS(ctx context.Context, cfg *Config, pp *preparedPod) error {
	reg, err := metadata.Register(ctx, cfg.MDSSocket, metadata.Registration{
		UUID: pp.pod.UUID, Manifest: pp.manifest, Images: pp.images,
	})
	if err != nil {
		return fmt.Errorf("registering pod %s with the metadata service: %w (start it with `rkt metadata-service`)", pp.pod.UUID, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(pp.pod.Path, podlayout.MdsTokenFile), []byte(reg.Token), 0o600); err != nil {
		return fmt.Errorf("registering pod %s with the metadata service: %w", pp.pod.UUID, err)
	}
	pp.rc.MetadataServiceURL = reg.URL
	if err := pp.rc.Write(podlayout.RuntimeConfigPath(pp.pod.Path)); err != nil {
		return fmt.Errorf("registering pod %s with the metadata service: %w", pp.pod.UUID, err)
	}
	return nil
}

// launch moves the pod to run/, calls locked (when not nil), mounts its
// overlays and execs the stage1 run entrypoint with the pod lock as
// RKT_LOCK_FD.
func launch(cfg *Config, pp *preparedPod, locked func() error) error {
	p := pp.pod
	entry, err := stage1Entrypoint(pp.stage1, entrypoint.AnnotationRun)
	if err != nil {
		p.Abort()
		return fmt.Errorf("running pod %s: %w", p.UUID, err)
	}
	fd, err := p.Run()
	if err != nil {
		p.Abort()
		return fmt.Errorf("running pod %s: %w", p.UUID, err)
	}
	// From here on the pod is in run/: a failure leaves an exited pod that
	// gc collects.
	if locked != nil {
		if err := locked(); err != nil {
			p.Close()
			return fmt.Errorf("running pod %s: %w", p.UUID, err)
		}
	}
	if err := mountPod(cfg.DataDir, p.Path, pp.manifest, pp.rc.AppLayers); err != nil {
		p.Close()
		return fmt.Errorf("running pod %s: %w", p.UUID, err)
	}
	rc := pp.rc
	args := entrypoint.RunArgs{
		Debug:               cfg.Debug || rc.Debug,
		Net:                 rc.NetList,
		Interactive:         rc.Interactive,
		LocalConfig:         cfg.LocalConfig,
		Hostname:            rc.Hostname,
		DNSConfMode:         (&podspec.Plan{Runtime: *rc}).DNSConfMode(),
		DisableCapabilities: cfg.Insecure.Has(insecure.Capabilities),
		DisablePaths:        cfg.Insecure.Has(insecure.Paths),
		DisableSeccomp:      cfg.Insecure.Has(insecure.Seccomp),
		IPC:                 rc.IPC,
		UUID:                p.UUID,
	}
	if rc.MetadataServiceURL != "" {
		tok, err := os.ReadFile(filepath.Join(p.Path, podlayout.MdsTokenFile))
		if err != nil {
			p.Close()
			return fmt.Errorf("running pod %s: reading the metadata token: %w", p.UUID, err)
		}
		args.MDSToken = string(tok)
	}
	// Absolute: the working directory changes to the pod's below, and
	// the data dir may have been given relative.
	bin, err := filepath.Abs(filepath.Join(podlayout.Stage1Rootfs(p.Path), entry))
	if err != nil {
		p.Close()
		return fmt.Errorf("running pod %s: %w", p.UUID, err)
	}
	argv := append([]string{bin}, args.Args(entrypoint.InterfaceVersion(pp.stage1))...)
	env := append(withoutEnv(os.Environ(), entrypoint.EnvLockFD), entrypoint.EnvLockFD+"="+strconv.Itoa(int(fd)))
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		// The stage1 entry point runs a few steps one after the other
		// and execs; the project's are Go binaries, which with one P
		// start with about 50 fewer page faults (bench/README.md). A
		// stage1 in another language ignores it; the apps' environment
		// comes from the pod manifest, not from this one.
		env = append(env, "GOMAXPROCS=1")
	}
	if err := os.Chdir(p.Path); err != nil {
		p.Close()
		return fmt.Errorf("running pod %s: %w", p.UUID, err)
	}
	cfg.log().Debug("executing stage1", "uuid", p.UUID, "argv", argv)
	err = syscall.Exec(bin, argv, env)
	p.Close()
	return fmt.Errorf("running pod %s: executing stage1 %s: %w", p.UUID, bin, err)
}

func withoutEnv(env []string, name string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// stage1Entrypoint is the path (relative to the stage1 rootfs) of the
// entrypoint that annotation names.
func stage1Entrypoint(m *schema.ImageManifest, annotation string) (string, error) {
	ep, ok := entrypoint.Entrypoint(m, annotation)
	if !ok {
		return "", fmt.Errorf("%w: %s has no %s annotation", ErrBadStage1, m.Name, annotation)
	}
	rel := strings.TrimLeft(ep, "/")
	if !strings.HasPrefix(ep, "/") || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%w: %s: entrypoint %q is not an absolute path inside the image", ErrBadStage1, m.Name, ep)
	}
	return rel, nil
}

// prepare does everything up to a fully laid out pod in prepare/, locked
// by this process, in the steps below, with the prepare lock held
// throughout so that image gc removes no image it uses.
func prepare(ctx context.Context, cfg *Config, plan *podspec.Plan) (_ *preparedPod, retErr error) {
	lock, err := LockPrepare(cfg.DataDir, flock.Shared)
	if err != nil {
		return nil, err
	}
	defer lock.Close()

	f, err := planFetcher(cfg, plan.PullPolicy)
	if err != nil {
		return nil, err
	}
	pm, apps, err := resolveImages(ctx, cfg, f, plan)
	if err != nil {
		return nil, err
	}
	ports, err := checkPodManifest(pm)
	if err != nil {
		return nil, err
	}
	s1, err := stage1ForPod(ctx, cfg, plan, len(pm.Apps))
	if err != nil {
		return nil, err
	}
	touched := touchImages(cfg, append([]string{s1.key}, keys(apps)...))
	defer touched()

	p, err := pod.Create(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("preparing pod: %w", err)
	}
	defer func() {
		if retErr != nil {
			p.Abort()
		}
	}()
	release, err := cfg.Store.HoldTrees(append([]string{s1.treeID}, treeIDs(apps)...))
	if err != nil {
		return nil, fmt.Errorf("preparing pod %s: %w", p.UUID, err)
	}
	defer release()

	rc := runtimeConfig(cfg, plan, pm, p.UUID, ports)
	overlay := useOverlay(cfg, plan, &rc, pm, apps)
	l := &layout{pod: p.Path, treePath: cfg.Store.TreePath, overlay: overlay, implicit: implicitVolumes(plan, pm)}
	if err := l.write(pm, &rc, s1, apps); err != nil {
		return nil, fmt.Errorf("preparing pod %s: %w", p.UUID, err)
	}
	if plan.UUIDFileSave != "" {
		if err := atomicfile.WriteFile(plan.UUIDFileSave, []byte(p.UUID), 0o644); err != nil {
			return nil, fmt.Errorf("preparing pod %s: saving the UUID: %w", p.UUID, err)
		}
	}
	images := map[string]*schema.ImageManifest{}
	for i, ra := range pm.Apps {
		images[ra.Name.String()] = apps[i].manifest
	}
	return &preparedPod{pod: p, manifest: pm, rc: &rc, stage1: s1.manifest, images: images}, nil
}

// planFetcher is the configured fetcher with the plan's pull policy.
func planFetcher(cfg *Config, pullPolicy string) (*fetch.Fetcher, error) {
	policy, err := fetch.ParsePullPolicy(pullPolicy)
	if err != nil {
		return nil, fmt.Errorf("preparing pod: %w", err)
	}
	if cfg.Fetcher == nil {
		return nil, errors.New("preparing pod: no fetcher configured")
	}
	f := *cfg.Fetcher
	f.PullPolicy = policy
	return &f, nil
}

// resolveImages fetches the images (as the pull policy allows) and builds
// the pod manifest: from the plan's apps, or from --pod-manifest.
func resolveImages(ctx context.Context, cfg *Config, f *fetch.Fetcher, plan *podspec.Plan) (*schema.PodManifest, []resolved, error) {
	if plan.PodManifestFile != "" {
		return resolveManifest(ctx, cfg, f, plan.PodManifestFile)
	}
	return resolvePlan(ctx, cfg, f, plan)
}

// checkPodManifest checks what the images make known: the ports forwarded
// from the host, resolved against the apps' ports (returned), and the
// volumes.
func checkPodManifest(pm *schema.PodManifest) ([]podlayout.PortForward, error) {
	ports, err := podspec.ForwardedPorts(pm)
	if err != nil {
		return nil, err
	}
	for _, v := range pm.Volumes {
		if err := podspec.ValidateVolume(v); err != nil {
			return nil, &podspec.UsageError{Msg: err.Error(), Err: err}
		}
	}
	return ports, nil
}

// stage1ForPod chooses the pod's stage1 and refuses, before the pod
// exists, what that stage1 would refuse once it does: a pod left behind
// is garbage the user did not ask for.
func stage1ForPod(ctx context.Context, cfg *Config, plan *podspec.Plan, apps int) (resolved, error) {
	s1, err := chooseStage1(ctx, cfg, plan.Stage1)
	if err != nil {
		return resolved{}, err
	}
	if _, err := stage1Entrypoint(s1.manifest, entrypoint.AnnotationRun); err != nil {
		return resolved{}, fmt.Errorf("preparing pod: %w", err)
	}
	if err := checkForStage1(cfg, s1.manifest, apps, plan.Runtime.NetList); err != nil {
		return resolved{}, err
	}
	return s1, nil
}

// touchImages records the images' last-used times in the background: a
// write transaction of the store's index (two fdatasyncs each) that
// overlaps the layout. wait returns once it is done; a failure is only
// logged, the time being a hint for image gc.
func touchImages(cfg *Config, keys []string) (wait func()) {
	log := cfg.log()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, k := range keys {
			if err := cfg.Store.Touch(k); err != nil {
				log.Debug("touching image", "key", k, "err", err)
			}
		}
	}()
	return func() { <-done }
}

// runtimeConfig is the pod's runtime config: the plan's, completed with
// the pod's UUID, the resolved ports, the defaults, the insecure options
// stage1 applies and the host volumes.
func runtimeConfig(cfg *Config, plan *podspec.Plan, pm *schema.PodManifest, uuid string, ports []podlayout.PortForward) podlayout.RuntimeConfig {
	rc := plan.Runtime
	rc.UUID = uuid
	rc.Ports = ports
	if rc.IPC == "" {
		rc.IPC = plan.IPC
	}
	if rc.Hostname == "" {
		rc.Hostname = "rkt-" + uuid
	}
	if len(rc.NetList) == 0 {
		rc.NetList = []string{"default"}
	}
	rc.Debug = rc.Debug || cfg.Debug
	for _, o := range []struct {
		set  insecure.Set
		name string
	}{{insecure.Capabilities, "capabilities"}, {insecure.Paths, "paths"}, {insecure.Seccomp, "seccomp"}} {
		if cfg.Insecure.Has(o.set) {
			rc.InsecureOptions = append(rc.InsecureOptions, o.name)
		}
	}
	for _, v := range pm.Volumes {
		if v.Kind == "host" {
			if rc.HostVolumes == nil {
				rc.HostVolumes = map[string]string{}
			}
			rc.HostVolumes[v.Name.String()] = v.Source
		}
	}
	return rc
}

// useOverlay decides whether the pod's root filesystems are overlays on
// the store's trees (true) or copies of them: copies with --no-overlay,
// when overlayfs is unusable for the data dir, or with --private-users
// when the trees cannot be idmapped. With --private-users and overlays,
// it sets rc.AppLayers: stage1 mounts the apps' overlays inside the pod's
// user namespace, on their layers idmapped into its range.
func useOverlay(cfg *Config, plan *podspec.Plan, rc *podlayout.RuntimeConfig, pm *schema.PodManifest, apps []resolved) bool {
	log := cfg.log()
	if plan.NoOverlay {
		return false
	}
	if !overlayUsable(cfg.DataDir) {
		log.Debug("overlayfs is not usable for the data dir: copying the rootfs instead", "dir", cfg.DataDir)
		return false
	}
	if rc.PrivateUsers == "" {
		return true
	}
	if len(apps) > 0 {
		if err := idmap.Supported(filepath.Join(cfg.Store.TreePath(apps[0].treeID), "rootfs")); err != nil {
			log.Warn(fmt.Sprintf("--private-users: the image store cannot be idmapped here (%v); copying the apps' root filesystems into the pod instead, as --no-overlay does", err))
			return false
		}
	}
	rc.AppLayers = map[string]string{}
	for i, ra := range pm.Apps {
		rc.AppLayers[ra.Name.String()] = filepath.Join(cfg.Store.TreePath(apps[i].treeID), "rootfs")
	}
	return true
}

func treeIDs(apps []resolved) []string {
	out := make([]string, len(apps))
	for i, a := range apps {
		out[i] = a.treeID
	}
	return out
}

func keys(apps []resolved) []string {
	out := make([]string, len(apps))
	for i, a := range apps {
		out[i] = a.key
	}
	return out
}

// resolvePlan fetches (as the pull policy allows) every image of the plan
// and builds the pod manifest.
func resolvePlan(ctx context.Context, cfg *Config, f *fetch.Fetcher, plan *podspec.Plan) (*schema.PodManifest, []resolved, error) {
	apps := make([]resolved, len(plan.Apps))
	specs := make([]podspec.ResolvedImage, len(plan.Apps))
	for i, a := range plan.Apps {
		key, err := f.Fetch(ctx, a.Image, a.Signature)
		if err != nil {
			return nil, nil, fmt.Errorf("preparing pod: %w", err)
		}
		r, err := resolveAppKey(ctx, cfg, key)
		if err != nil {
			return nil, nil, fmt.Errorf("preparing pod: image %q: %w", a.Image, err)
		}
		apps[i] = r
		specs[i] = podspec.ResolvedImage{Key: key, Manifest: r.manifest}
	}
	pm, err := podspec.Manifest(plan, specs)
	if err != nil {
		return nil, nil, err
	}
	return pm, apps, nil
}

// resolveKey renders an image in the store (a no-op when it is) and reads
// its manifest.
func resolveKey(ctx context.Context, cfg *Config, key string) (resolved, error) {
	treeID, im, raw, err := cfg.Store.RenderManifest(ctx, key)
	if err != nil {
		return resolved{}, err
	}
	return resolved{key: key, treeID: treeID, manifest: im, raw: raw}, nil
}

// resolveAppKey is resolveKey for an app's image, which must be for an os
// and arch rkt runs (podspec.CheckOSArch); checked before any rendering.
func resolveAppKey(ctx context.Context, cfg *Config, key string) (resolved, error) {
	im, _, err := cfg.Store.Manifest(key)
	if err != nil {
		return resolved{}, err
	}
	if err := podspec.CheckOSArch(im); err != nil {
		return resolved{}, err
	}
	return resolveKey(ctx, cfg, key)
}

// resolveManifest reads a --pod-manifest file and resolves its images: by
// ID in the store, or by name (and labels) through the fetcher.
func resolveManifest(ctx context.Context, cfg *Config, f *fetch.Fetcher, path string) (*schema.PodManifest, []resolved, error) {
	pm, err := podspec.LoadManifest(path)
	if err != nil {
		return nil, nil, err
	}
	apps := make([]resolved, len(pm.Apps))
	for i := range pm.Apps {
		ra := &pm.Apps[i]
		var key string
		if !ra.Image.ID.Empty() {
			key, err = cfg.Store.ResolveKey(ra.Image.ID.String())
		} else {
			ref := ra.Image.Name.String()
			for _, l := range ra.Image.Labels {
				ref += "," + l.Name.String() + "=" + l.Value
			}
			key, err = f.Fetch(ctx, ref, "")
		}
		if err != nil {
			return nil, nil, fmt.Errorf("preparing pod: app %q: %w", ra.Name, err)
		}
		r, err := resolveAppKey(ctx, cfg, key)
		if err != nil {
			return nil, nil, fmt.Errorf("preparing pod: app %q: %w", ra.Name, err)
		}
		id, err := types.NewHash(key)
		if err != nil {
			return nil, nil, fmt.Errorf("preparing pod: app %q: %w", ra.Name, err)
		}
		ra.Image.ID = *id
		if ra.Image.Name == nil {
			n := r.manifest.Name
			ra.Image.Name = &n
		}
		if ra.App == nil {
			if r.manifest.App == nil {
				return nil, nil, fmt.Errorf("preparing pod: app %q: image %s has no app", ra.Name, key)
			}
			app := *r.manifest.App
			ra.App = &app
		}
		apps[i] = r
	}
	return pm, apps, nil
}

// flyStage1Name is the name of the fly stage1 image (rkt 1.30's too).
const flyStage1Name = "coreos.com/rkt/stage1-fly"

// checkForStage1 refuses, as usage errors, a pod the stage1 would refuse
// to start: with the fly stage1 a pod of other than one app; with any
// other stage1 a --net naming a network that is neither built in nor
// configured (fly ignores --net, as rkt 1.30's did).
func checkForStage1(cfg *Config, s1 *schema.ImageManifest, apps int, nets []string) error {
	if s1 != nil && string(s1.Name) == flyStage1Name {
		if apps != 1 {
			return &podspec.UsageError{Msg: fmt.Sprintf("%v: the pod has %d apps", ErrFlyOneApp, apps), Err: ErrFlyOneApp}
		}
		return nil
	}
	if len(nets) == 0 {
		return nil
	}
	if err := netspec.CheckNames(nets, netspec.SystemConfigDir, cfg.LocalConfig); err != nil {
		return &podspec.UsageError{Msg: "--net=" + strings.Join(nets, ",") + ": " + err.Error(), Err: err}
	}
	return nil
}
