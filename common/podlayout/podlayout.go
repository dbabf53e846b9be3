// Package podlayout names every path inside a pod directory and inside the
// stage1 rootfs, and holds the formats of the files stage0 and stage1 pass
// to each other there: the runtime-config JSON and the app status files.
//
// Pod directory (see Documentation/devel/stage1-contract.md):
//
//	<pod>/pod                         pod manifest
//	<pod>/runtime-config              RuntimeConfig JSON
//	<pod>/pod-created                 mtime = creation time
//	<pod>/stage1TreeStoreID, <pod>/overlay-prepared, <pod>/mds-token
//	<pod>/pid | <pod>/ppid (+ pgid)   written by stage1
//	<pod>/stage1/{manifest,rootfs/}
//	<pod>/stage1/rootfs/opt/stage2/<app>/{manifest,rootfs/}
//	<pod>/stage1/rootfs/rkt/{pod,runtime-config,status/<app>,env/<app>,supervisor-status,logs-to-journal,log/<app>,volumes/<vol>}
//	<pod>/appsinfo/<app>/{manifest,treeStoreID}
//	<pod>/overlay/<treeStoreID>/{upper,work}[/<app>]
//	<pod>/sharedVolumes/<vol>
//
// Invariants: every path is built from a validated UUID or app name (see
// ValidUUID and ValidAppName), so none escapes the pod directory; every file
// written here is written atomically (common/atomicfile).
package podlayout

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/common/atomicfile"
)

// Files at the top of a pod directory.
const (
	PodManifestFile       = "pod"
	RuntimeConfigFile     = "runtime-config"
	PidFile               = "pid"
	PpidFile              = "ppid"
	PgidFile              = "pgid"
	PodCreatedFile        = "pod-created"
	Stage1TreeStoreIDFile = "stage1TreeStoreID"
	OverlayPreparedFile   = "overlay-prepared"
	MdsTokenFile          = "mds-token"
	// CgroupFile records the pod's cgroup (stage1/isolation/cgroups
	// Encode form), written by the nspawn /init and read by its gc.
	CgroupFile = "cgroup"
	// NetInfoFile and NetNSFile are written by stage1 networking: the
	// networks the pod joined (JSON array with rkt's keys netName, ifName,
	// ip, mask, gateway, ...) and the path of its network namespace.
	NetInfoFile = "net-info.json"
	NetNSFile   = "netns"
)

// Paths inside the pod, as the supervisor sees them ("/" = stage1 rootfs).
const (
	InPodAppsDir          = "/opt/stage2"
	InPodStatusDir        = "/rkt/status"
	InPodEnvDir           = "/rkt/env"
	InPodManifest         = "/rkt/pod"
	InPodRuntimeConfig    = "/rkt/runtime-config"
	InPodVolumesDir       = "/rkt/volumes"
	InPodSupervisorStatus = "/rkt/supervisor-status"
	// InPodCgroupDir holds, per hierarchy key (a v1 controller name or
	// "unified"), a bind mount of the pod's cgroup directory; each app's
	// cgroup is <key>/<app>, created and limited on the host by /init.
	InPodCgroupDir = "/rkt/cgroup"
	// InPodIsolationDir holds <app>.json: how the supervisor confined the
	// app (identity, capabilities, no_new_privs, seccomp profile, cgroup),
	// so that enter can confine the entered command the same way.
	InPodIsolationDir = "/rkt/isolation"
	// InPodHostResolvConf and InPodHostHosts are copies of the host's
	// /etc/resolv.conf and /etc/hosts, made by the nspawn /init for
	// --dns=host and --hosts-entry=host (the pod cannot read the host's).
	InPodHostResolvConf = "/rkt/host-resolv.conf"
	InPodHostHosts      = "/rkt/host-hosts"
	// InPodLayersDir and InPodOverlayDir serve an overlay pod with
	// --private-users (RuntimeConfig.AppLayers): <app> under the first is
	// the app's image tree, idmapped into the pod's user range by the
	// nspawn /init; under the second, a bind of the pod's overlay
	// directory for that tree (upper/<app>, work/<app>). The supervisor
	// mounts the app's overlay from them, inside the pod's user namespace.
	InPodLayersDir  = "/rkt/layers"
	InPodOverlayDir = "/rkt/overlay"
	// InPodLifeline is a FIFO that the nspawn /init opens for writing
	// before it execs systemd-nspawn, so that only the process `rkt run`
	// began as holds it open for writing (nspawn closes it in the pod's
	// PID 1). The supervisor reads it: end of file means that process is
	// gone, and the pod stops at once (killed, no post-stop handlers).
	InPodLifeline = "/rkt/lifeline"
	// InPodJournalMarker exists while the supervisor sends the apps'
	// output to the host's journal (with RKT_POD_UUID and RKT_APP), so
	// that a reader of the pod's logs knows to look there.
	InPodJournalMarker = "/rkt/logs-to-journal"
	// InPodLogDir holds, when the apps' output does not go to the
	// journal and the pod is not interactive, <app> (and <app>.1, the
	// previous part): the app's output lines, each as
	// "<RFC 3339 UTC time with nanoseconds> <line>" (see LogTimeLayout).
	InPodLogDir = "/rkt/log"
)

// MaxLogPart is the size at which the supervisor renames an app's log
// file to <app>.1 (replacing the older part) and starts a new one: an
// app's log takes at most twice this and keeps at least its last
// MaxLogPart bytes.
const MaxLogPart = 2 << 20

// LogTimeLayout is the time at the start of every line of an app's log.
const LogTimeLayout = "2006-01-02T15:04:05.000000000Z"

// SupervisorReady is the target of the supervisor-status symlink once every
// app is started.
const SupervisorReady = "ready"

// AnnotationStopSignal names the signal that asks an app to stop instead
// of SIGTERM: stage0 writes an OCI image config's StopSignal under
// docker2aci's name, and the nspawn stage1 sends it on a stop. The pod
// manifest's app annotations override the image's.
const AnnotationStopSignal = "appc.io/docker/stopsignal"

// AnnotationGroupFromPasswd, set to "true" on an image's manifest, says
// that the app's group is a placeholder: its image (converted from an OCI
// image whose config named a user without a group) wants the user's
// primary group from the image's /etc/passwd, or 0 when the user is not
// there, as Docker runs it. appc makes group a required field, so stage0
// copies the annotation to the pod manifest's app when no --group was
// given, and stage1 then resolves the group that way.
const AnnotationGroupFromPasswd = "appc.io/oci/group-from-passwd"

// GroupFromPasswd clears app's group when the pod manifest's app has
// AnnotationGroupFromPasswd (podAnnotations): resolving the identity then
// takes the user's primary group from the image's /etc/passwd.
func GroupFromPasswd(app *types.App, podAnnotations types.Annotations) {
	if v, ok := podAnnotations.Get(AnnotationGroupFromPasswd); ok && v == "true" {
		app.Group = ""
	}
}

// DefaultStopTimeout is the time between SIGTERM and SIGKILL when an app is
// stopped and RuntimeConfig.StopTimeout is zero.
const DefaultStopTimeout = 10 * time.Second

// PodManifest is <pod>/pod.
func PodManifest(pod string) string { return filepath.Join(pod, PodManifestFile) }

// RuntimeConfigPath is <pod>/runtime-config.
func RuntimeConfigPath(pod string) string { return filepath.Join(pod, RuntimeConfigFile) }

// Stage1Dir is <pod>/stage1.
func Stage1Dir(pod string) string { return filepath.Join(pod, "stage1") }

// Stage1Rootfs is <pod>/stage1/rootfs.
func Stage1Rootfs(pod string) string { return filepath.Join(pod, "stage1", "rootfs") }

// Stage1Manifest is <pod>/stage1/manifest.
func Stage1Manifest(pod string) string { return filepath.Join(pod, "stage1", "manifest") }

// AppDir is <pod>/stage1/rootfs/opt/stage2/<app>.
func AppDir(pod, app string) string {
	return filepath.Join(Stage1Rootfs(pod), InPodAppsDir, app)
}

// AppRootfs is <pod>/stage1/rootfs/opt/stage2/<app>/rootfs.
func AppRootfs(pod, app string) string { return filepath.Join(AppDir(pod, app), "rootfs") }

// AppImageManifest is <pod>/stage1/rootfs/opt/stage2/<app>/manifest.
func AppImageManifest(pod, app string) string { return filepath.Join(AppDir(pod, app), "manifest") }

// AppsInfoDir is <pod>/appsinfo/<app>.
func AppsInfoDir(pod, app string) string { return filepath.Join(pod, "appsinfo", app) }

// AppsInfoManifest is <pod>/appsinfo/<app>/manifest.
func AppsInfoManifest(pod, app string) string {
	return filepath.Join(AppsInfoDir(pod, app), "manifest")
}

// AppsInfoTreeStoreID is <pod>/appsinfo/<app>/treeStoreID.
func AppsInfoTreeStoreID(pod, app string) string {
	return filepath.Join(AppsInfoDir(pod, app), "treeStoreID")
}

// OverlayDir is <pod>/overlay/<treeStoreID>, holding upper and work (for the
// stage1) or upper/<app> and work/<app> (for an app).
func OverlayDir(pod, treeStoreID string) string { return filepath.Join(pod, "overlay", treeStoreID) }

// StatusDir is <pod>/stage1/rootfs/rkt/status.
func StatusDir(pod string) string { return filepath.Join(Stage1Rootfs(pod), InPodStatusDir) }

// AppStatusPath is <pod>/stage1/rootfs/rkt/status/<app>: the app's exit code.
func AppStatusPath(pod, app string) string { return filepath.Join(StatusDir(pod), app) }

// AppCreatedPath is rkt/status/<app>-created; its mtime is the app's creation time.
func AppCreatedPath(pod, app string) string { return filepath.Join(StatusDir(pod), app+"-created") }

// AppStartedPath is rkt/status/<app>-started; its mtime is the app's start time.
func AppStartedPath(pod, app string) string { return filepath.Join(StatusDir(pod), app+"-started") }

// EnvDir is <pod>/stage1/rootfs/rkt/env.
func EnvDir(pod string) string { return filepath.Join(Stage1Rootfs(pod), InPodEnvDir) }

// AppEnvPath is <pod>/stage1/rootfs/rkt/env/<app>.
func AppEnvPath(pod, app string) string { return filepath.Join(EnvDir(pod), app) }

// SupervisorStatusPath is <pod>/stage1/rootfs/rkt/supervisor-status.
func SupervisorStatusPath(pod string) string {
	return filepath.Join(Stage1Rootfs(pod), InPodSupervisorStatus)
}

// JournalMarkerPath is <pod>/stage1/rootfs/rkt/logs-to-journal.
func JournalMarkerPath(pod string) string {
	return filepath.Join(Stage1Rootfs(pod), InPodJournalMarker)
}

// AppLogPath is <pod>/stage1/rootfs/rkt/log/<app>.
func AppLogPath(pod, app string) string { return filepath.Join(Stage1Rootfs(pod), InPodLogDir, app) }

// LifelinePath is <pod>/stage1/rootfs/rkt/lifeline.
func LifelinePath(pod string) string { return filepath.Join(Stage1Rootfs(pod), InPodLifeline) }

// InPodManifestPath is <pod>/stage1/rootfs/rkt/pod, the supervisor's copy of the pod manifest.
func InPodManifestPath(pod string) string { return filepath.Join(Stage1Rootfs(pod), InPodManifest) }

// InPodRuntimeConfigPath is <pod>/stage1/rootfs/rkt/runtime-config.
func InPodRuntimeConfigPath(pod string) string {
	return filepath.Join(Stage1Rootfs(pod), InPodRuntimeConfig)
}

// VolumeMountPoint is <pod>/stage1/rootfs/rkt/volumes/<vol>.
func VolumeMountPoint(pod, vol string) string {
	return filepath.Join(Stage1Rootfs(pod), InPodVolumesDir, vol)
}

// SharedVolumesDir is <pod>/sharedVolumes.
func SharedVolumesDir(pod string) string { return filepath.Join(pod, "sharedVolumes") }

// SharedVolumeDir is <pod>/sharedVolumes/<vol>, the backing dir of an empty volume.
func SharedVolumeDir(pod, vol string) string { return filepath.Join(SharedVolumesDir(pod), vol) }

// RuntimeConfig is the pod-wide configuration stage0 hands to stage1 in
// <pod>/runtime-config (and its copy under stage1/rootfs/rkt). Stage1
// prefers it to its command-line flags.
type RuntimeConfig struct {
	UUID        string
	Hostname    string
	Interactive bool
	Debug       bool
	NetList     []string // --net: "default", "host", "none", "all" or net.d names with args (stage1/network grammar)

	MetadataServiceURL string // set when registered; AC_METADATA_URL

	DNS          []string
	DNSSearch    []string
	DNSOpt       []string
	DNSDomain    string
	HostsEntries map[string][]string

	SetEnv          map[string]string // --set-env/--set-env-file/--inherit-env, applied to every app
	InsecureOptions []string          // capabilities, paths, seccomp when disabled
	HostVolumes     map[string]string // volume name -> host source (kind=host); empty volumes use SharedVolumeDir
	StopTimeout     time.Duration     // SIGTERM -> SIGKILL (0: DefaultStopTimeout)

	Ports        []PortForward // --port: manifest ports forwarded from the host
	PrivateUsers string        // --private-users: "" (off), or "auto"
	// AppLayers, set for an overlay pod with --private-users, maps each
	// app to the lower layer of its rootfs (its image tree's rootfs on
	// the host). stage0 then leaves the apps' overlays unmounted: stage1
	// mounts them inside the pod's user namespace, on the layers idmapped
	// into its range, so that nothing is chowned.
	AppLayers map[string]string `json:",omitempty"`
	IPC       string            // --ipc: "", "auto", "private", "parent"
}

// PortForward is one --port NAME:[HOSTIP:]HOSTPORT, resolved against the
// apps' manifest ports by stage0.
type PortForward struct {
	Name     string
	Protocol string // "tcp" or "udp"
	PodPort  uint16
	HostIP   string // "" = every address
	HostPort uint16
}

// ReadRuntimeConfig reads a runtime-config file.
func ReadRuntimeConfig(path string) (*RuntimeConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading runtime config: %w", err)
	}
	var c RuntimeConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("reading runtime config %s: %w", path, err)
	}
	return &c, nil
}

// Write writes the config to path atomically, mode 0644.
func (c *RuntimeConfig) Write(path string) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encoding runtime config: %w", err)
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("writing runtime config: %w", err)
	}
	return nil
}

// WriteAppStatus records an app's exit code (decimal) at path, atomically.
func WriteAppStatus(path string, code int) error {
	if err := atomicfile.WriteFile(path, []byte(strconv.Itoa(code)), 0o644); err != nil {
		return fmt.Errorf("writing app status: %w", err)
	}
	return nil
}

// ReadAppStatus reads an app's exit code. A missing file (the app has not
// exited) is reported as an error wrapping fs.ErrNotExist.
func ReadAppStatus(path string) (code int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading app status: %w", err)
	}
	code, err = strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("reading app status %s: %w", path, err)
	}
	return code, nil
}

// ErrInvalidUUID and ErrInvalidAppName are wrapped by the validators.
var (
	ErrInvalidUUID    = errors.New("invalid pod UUID")
	ErrInvalidAppName = errors.New("invalid app name")
)

// ValidUUID accepts only the canonical lowercase form of a UUID
// (8-4-4-4-12 hex digits), the names of pod directories.
func ValidUUID(s string) error {
	if len(s) != 36 {
		return fmt.Errorf("%w %q: want 36 characters", ErrInvalidUUID, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return fmt.Errorf("%w %q: want '-' at position %d", ErrInvalidUUID, s, i+1)
			}
		default:
			if !isLowerHex(c) {
				return fmt.Errorf("%w %q: want lowercase hex digits", ErrInvalidUUID, s)
			}
		}
	}
	return nil
}

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// ValidAppName accepts appc ACNames (lowercase letters, digits and inner
// single dashes) of at most 255 bytes: never "", ".", ".." or a slash.
func ValidAppName(s string) error {
	if len(s) > 255 {
		return fmt.Errorf("%w: longer than 255 bytes", ErrInvalidAppName)
	}
	if _, err := types.NewACName(s); err != nil {
		return fmt.Errorf("%w %q: %w", ErrInvalidAppName, s, err)
	}
	return nil
}
