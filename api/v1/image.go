package v1

// ImageListEntry is one image of `rkt image list --format=json`, in rkt
// v1.30's api/v1 shape: snake_case keys and times as Unix nanoseconds.
type ImageListEntry struct {
	// ID is the full image ID, sha512-<64 hex>.
	ID string `json:"id"`
	// Name is the image name with its version label, if any, as
	// name:version.
	Name string `json:"name"`
	// ImportTime is when the image entered the store (Unix nanoseconds).
	ImportTime int64 `json:"import_time"`
	// LastUsedTime is when a pod last used the image (Unix nanoseconds);
	// it equals ImportTime for an image never used.
	LastUsedTime int64 `json:"last_used_time"`
	// Size is the blob size plus the size of its rendered tree, in bytes.
	Size int64 `json:"size"`
}
