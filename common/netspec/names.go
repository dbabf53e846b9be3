package netspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// NetDir is the directory under a configuration directory that holds
// network configurations (*.conf, *.conflist).
const NetDir = "net.d"

// SystemConfigDir is the system configuration directory whose net.d the
// stage1 reads besides the local one.
const SystemConfigDir = "/usr/lib/rkt"

// ErrUnknownNetwork: a network name that is neither built in nor named by
// a file of net.d.
var ErrUnknownNetwork = errors.New("no such network")

// CheckNames reports whether the --net values parse and every network they
// name is built in (default, default-restricted) or named by a file of
// net.d under systemConfig or localConfig. It reads only each file's
// "name" (matched without regard to case, as the stage1 reads it): stage0
// calls it before a pod exists, so that a misspelt --net leaves nothing
// behind, and leaves the configurations themselves to the stage1, which
// sets the networks up (and refuses a file it cannot use).
func CheckNames(values []string, systemConfig, localConfig string) error {
	reqs, err := ParseNetFlag(values)
	if err != nil {
		return err
	}
	if IsHost(reqs) {
		return nil
	}
	known := map[string]bool{NetDefault: true, NetDefaultRestricted: true, NetNone: true, NetAll: true}
	for _, base := range []string{systemConfig, localConfig} {
		if base == "" {
			continue
		}
		for _, pattern := range []string{"*.conf", "*.conflist"} {
			files, _ := filepath.Glob(filepath.Join(base, NetDir, pattern))
			for _, f := range files {
				if name := ConfName(f); name != "" {
					known[name] = true
				}
			}
		}
	}
	for _, r := range reqs {
		if !known[r.Name] {
			return fmt.Errorf("%w: %q (configure it in %s)", ErrUnknownNetwork, r.Name, filepath.Join(localConfig, NetDir))
		}
	}
	return nil
}

// maxConfSize bounds what CheckNames reads of one configuration file.
const maxConfSize = 1 << 20

// ConfName is the network name a configuration file gives, or "" when it
// cannot be read. The key is matched without regard to case, as the stage1
// reads it: "name" itself first, else the first other spelling in sorted
// order.
func ConfName(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var raw map[string]json.RawMessage
	if json.NewDecoder(io.LimitReader(f, maxConfSize)).Decode(&raw) != nil {
		return ""
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		if strings.EqualFold(k, "name") {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys)
	key := keys[0]
	if _, ok := raw["name"]; ok {
		key = "name"
	}
	var name string
	if json.Unmarshal(raw[key], &name) != nil {
		return ""
	}
	return name
}
