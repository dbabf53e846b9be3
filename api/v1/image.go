package v1

import "time"

// ImageListEntry is one image of `rkt image list --format=json`.
type ImageListEntry struct {
	// ID is the full image ID, sha512-<64 hex>.
	ID string `json:"id"`
	// Name is the image name with its version label, if any, as
	// name:version.
	Name string `json:"name"`
	// ImportTime is when the image entered the store.
	ImportTime time.Time `json:"importTime"`
	// LastUsed is when a pod last used the image; it equals ImportTime for
	// an image never used.
	LastUsed time.Time `json:"lastUsed"`
	// Size is the blob size plus the size of its rendered tree, in bytes.
	Size int64 `json:"size"`
}
