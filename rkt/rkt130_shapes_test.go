package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The JSON shapes of rkt 1.30's api/v1 package, written here from its
// documentation and independently of api/v1, so that a drift in api/v1 or
// in the commands shows up as a decode failure. decodeStrict refuses keys
// these structs do not have, and the *Keys lists are the keys rkt 1.30
// always wrote (no omitempty).

type rkt130ImageListEntry struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	ImportTime   int64  `json:"import_time"`
	LastUsedTime int64  `json:"last_used_time"`
	Size         int64  `json:"size"`
}

var rkt130ImageKeys = []string{"id", "name", "import_time", "last_used_time", "size"}

type rkt130NetInfo struct {
	NetName    string `json:"netName"`
	ConfPath   string `json:"netConf"`
	PluginPath string `json:"pluginPath"`
	IfName     string `json:"ifName"`
	IP         string `json:"ip"`
	Args       string `json:"args"`
	Mask       string `json:"mask"`
}

var rkt130NetKeys = []string{"netName", "netConf", "pluginPath", "ifName", "ip", "args", "mask"}

type rkt130Mount struct {
	Name          string `json:"name"`
	ContainerPath string `json:"container_path"`
	HostPath      string `json:"host_path"`
	ReadOnly      bool   `json:"read_only"`
}

type rkt130App struct {
	Name            string            `json:"name"`
	State           string            `json:"state"`
	CreatedAt       *int64            `json:"created_at,omitempty"`
	StartedAt       *int64            `json:"started_at,omitempty"`
	FinishedAt      *int64            `json:"finished_at,omitempty"`
	ExitCode        *int32            `json:"exit_code,omitempty"`
	ImageID         string            `json:"image_id"`
	Mounts          []*rkt130Mount    `json:"mounts,omitempty"`
	UserAnnotations map[string]string `json:"user_annotations,omitempty"`
	UserLabels      map[string]string `json:"user_labels,omitempty"`
}

var rkt130AppKeys = []string{"name", "state", "image_id"}

type rkt130Pod struct {
	UUID            string            `json:"name"`
	State           string            `json:"state"`
	Networks        []rkt130NetInfo   `json:"networks,omitempty"`
	AppNames        []string          `json:"app_names,omitempty"`
	Apps            []*rkt130App      `json:"apps,omitempty"`
	CreatedAt       *int64            `json:"created_at,omitempty"`
	StartedAt       *int64            `json:"started_at,omitempty"`
	UserAnnotations map[string]string `json:"user_annotations,omitempty"`
	UserLabels      map[string]string `json:"user_labels,omitempty"`
}

var rkt130PodKeys = []string{"name", "state"}

// decodeStrict decodes data into v, refusing keys v does not have.
func decodeStrict(t *testing.T, data string, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %s with rkt 1.30's shape: %v", data, err)
	}
}

// assertKeys fails unless the JSON object obj has every key of keys.
func assertKeys(t *testing.T, what string, obj map[string]any, keys []string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			t.Errorf("%s lacks key %q, which rkt 1.30 always wrote: %v", what, k, obj)
		}
	}
}
