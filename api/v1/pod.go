package v1

// The pod and app shapes of `rkt list --format=json` and `rkt status
// --format=json` are rkt v1.30's api/v1 types, field for field: the UUID
// under "name", snake_case keys, the pod's times as Unix seconds and the
// apps' times as Unix nanoseconds (both as rkt 1.30 wrote them; the
// exceptions to RFC 3339 times in this package, kept for the scripts and
// clients written against rkt). Absent times and empty lists are left out
// where rkt left them out.

// AppState is the state of an app.
type AppState string

const (
	AppStateUnknown AppState = "unknown"
	AppStateCreated AppState = "created"
	AppStateRunning AppState = "running"
	AppStateExited  AppState = "exited"
)

// Pod is one pod.
type Pod struct {
	// UUID is the pod's UUID.
	UUID string `json:"name"`
	// State is one of rkt's state strings: embryo, preparing,
	// aborted prepare, prepared, running, deleting, exited deleting,
	// exited, exited garbage, garbage.
	State string `json:"state"`
	// Networks are the networks the pod joined (none for --net=host).
	Networks []NetInfo `json:"networks,omitempty"`
	// AppNames are the names of the pod's apps, in manifest order
	// (deprecated in rkt 1.30 in favour of Apps, still written).
	AppNames []string `json:"app_names,omitempty"`
	// Apps holds each app's state.
	Apps []*App `json:"apps,omitempty"`
	// CreatedAt is when the pod was created (Unix seconds).
	CreatedAt *int64 `json:"created_at,omitempty"`
	// StartedAt is when the pod started running (Unix seconds).
	StartedAt *int64 `json:"started_at,omitempty"`
	// UserAnnotations and UserLabels are the pod manifest's.
	UserAnnotations map[string]string `json:"user_annotations,omitempty"`
	UserLabels      map[string]string `json:"user_labels,omitempty"`
}

// App is one app of a pod.
type App struct {
	// Name is the app name.
	Name string `json:"name"`
	// State is created, running, exited or unknown.
	State AppState `json:"state"`
	// CreatedAt, StartedAt and FinishedAt are Unix nanoseconds.
	CreatedAt  *int64 `json:"created_at,omitempty"`
	StartedAt  *int64 `json:"started_at,omitempty"`
	FinishedAt *int64 `json:"finished_at,omitempty"`
	// ExitCode is the app's exit code; absent while it has not exited.
	ExitCode *int32 `json:"exit_code,omitempty"`
	// ImageID is the full ID of the app's image.
	ImageID string `json:"image_id"`
	// Mounts are the app's mount points and what is mounted there.
	Mounts []*Mount `json:"mounts,omitempty"`
	// UserAnnotations and UserLabels are the app's, from the pod manifest.
	UserAnnotations map[string]string `json:"user_annotations,omitempty"`
	UserLabels      map[string]string `json:"user_labels,omitempty"`
}

// Mount is one mount point of an app.
type Mount struct {
	// Name is the volume's name.
	Name string `json:"name"`
	// ContainerPath is where the app sees it.
	ContainerPath string `json:"container_path"`
	// HostPath is the volume's source on the host ("" for an empty volume).
	HostPath string `json:"host_path"`
	// ReadOnly tells whether the app may write to it.
	ReadOnly bool `json:"read_only"`
}

// NetInfo is one network of a pod, as rkt 1.30's netinfo.NetInfo printed
// it: every field always present.
type NetInfo struct {
	// NetName is the network's name (default, a net.d name).
	NetName string `json:"netName"`
	// ConfPath is the network's configuration file, when known.
	ConfPath string `json:"netConf"`
	// PluginPath is the CNI plugin that set it up, when known.
	PluginPath string `json:"pluginPath"`
	// IfName is the pod's interface (eth0, ...).
	IfName string `json:"ifName"`
	// IP is the pod's address; "" while the network is being added.
	IP string `json:"ip"`
	// Args are the CNI_ARGS given.
	Args string `json:"args"`
	// Mask is the address's netmask, dotted.
	Mask string `json:"mask"`
}
