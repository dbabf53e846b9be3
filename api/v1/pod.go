package v1

// Pod is one pod of `rkt list --format=json` and of
// `rkt status --format=json`, in rkt v1.30's shape: the UUID under "name",
// snake_case keys, and times as Unix seconds (rkt's v1 API; the one
// exception to RFC 3339 times in this package, kept for the scripts written
// against rkt). Absent times and empty lists are left out.
type Pod struct {
	// UUID is the pod's UUID.
	UUID string `json:"name"`
	// State is one of rkt's state strings: embryo, preparing,
	// aborted prepare, prepared, running, deleting, exited deleting,
	// exited, exited garbage, garbage.
	State string `json:"state"`
	// Networks are the networks the pod joined (none for --net=host).
	Networks []PodNetwork `json:"networks,omitempty"`
	// AppNames are the names of the pod's apps, in manifest order.
	AppNames []string `json:"app_names,omitempty"`
	// CreatedAt is when the pod was created (Unix seconds).
	CreatedAt *int64 `json:"created_at,omitempty"`
	// StartedAt is when the pod started running (Unix seconds).
	StartedAt *int64 `json:"started_at,omitempty"`
	// Pid is the pod's PID 1 on the host, while it runs (status only).
	Pid int `json:"pid,omitempty"`
	// Apps is each app's image and, once it has exited, its exit code
	// (status only).
	Apps []PodApp `json:"apps,omitempty"`
	// UserAnnotations and UserLabels are the pod manifest's.
	UserAnnotations map[string]string `json:"user_annotations,omitempty"`
	UserLabels      map[string]string `json:"user_labels,omitempty"`
}

// PodNetwork is one network of a pod.
type PodNetwork struct {
	NetName string `json:"netName"`
	IfName  string `json:"ifName,omitempty"`
	IP      string `json:"ip,omitempty"`
	Mask    string `json:"mask,omitempty"`
}

// PodApp is one app of `rkt status --format=json`.
type PodApp struct {
	// Name is the app name.
	Name string `json:"name"`
	// ImageID is the full ID of the app's image.
	ImageID string `json:"image_id"`
	// ImageName is the image name, with its version label as name:version.
	ImageName string `json:"image_name,omitempty"`
	// ExitCode is the app's exit code; absent while it has not exited.
	ExitCode *int `json:"exit_code,omitempty"`
}
