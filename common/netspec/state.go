package netspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Files in the pod directory.
const (
	NetInfoFile = "net-info.json" // one record per network, see stage1/network
	NetNSFile   = "netns"         // path of the pod's network namespace
)

// Info is a pod's network state.
type Info struct {
	NetNS string // path of the network namespace; "" for host networking
	Nets  []NetInfo
}

// NetInfo is one network the pod is in. IP is "" while the network is
// being added, or when adding it failed.
type NetInfo struct {
	Name    string `json:"netName"`
	IfName  string `json:"ifName"`
	IP      string `json:"ip,omitempty"`
	Mask    string `json:"mask,omitempty"` // dotted, as rkt wrote it
	Gateway string `json:"gateway,omitempty"`
	// HostIP is the host's address on this network (the host end of the
	// ptp link, the bridge): the address the pod reaches the host at.
	HostIP string `json:"hostIP,omitempty"`
	Args   string `json:"args"` // CNI_ARGS as given
	DNS    *DNS   `json:"dns,omitempty"`
}

// DNS is the DNS configuration a plugin returned, if any.
type DNS struct {
	Nameservers []string `json:"nameservers,omitempty"`
	Domain      string   `json:"domain,omitempty"`
	Search      []string `json:"search,omitempty"`
	Options     []string `json:"options,omitempty"`
}

// Load reads a pod's network state for list and status. It returns
// ErrNoNetwork when the pod has none recorded (host networking, never
// started, torn down).
func Load(podDir string) (*Info, error) {
	b, err := os.ReadFile(filepath.Join(podDir, NetInfoFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoNetwork
	}
	if err != nil {
		return nil, err
	}
	// Each record holds more (what teardown needs); the shown part is
	// NetInfo's fields at its top level.
	nets := []NetInfo{}
	if len(b) > 0 { // empty: a crash between create and write, nothing added
		if err := json.Unmarshal(b, &nets); err != nil {
			return nil, fmt.Errorf("reading %s: %w", NetInfoFile, err)
		}
	}
	nsPath := ""
	if b, err := os.ReadFile(filepath.Join(podDir, NetNSFile)); err == nil {
		nsPath = strings.TrimSpace(string(b))
	}
	return &Info{NetNS: nsPath, Nets: nets}, nil
}
