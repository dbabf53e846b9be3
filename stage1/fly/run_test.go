package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/appc/spec/schema/types"
)

func isolatorsOf(t *testing.T, js string) types.Isolators {
	t.Helper()
	var isos types.Isolators
	if err := json.Unmarshal([]byte(js), &isos); err != nil {
		t.Fatal(err)
	}
	return isos
}

// Fly applies no isolator, and says so for every one the app asks for.
func TestNotAppliedReportsEveryIsolator(t *testing.T) {
	img := &types.App{Isolators: isolatorsOf(t, `[
		{"name":"resource/memory","value":{"limit":"64M"}},
		{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_CHOWN"]}},
		{"name":"os/linux/sysctl","value":{"net.ipv4.ip_forward":"1"}}]`)}
	pod := &types.App{Isolators: isolatorsOf(t, `[
		{"name":"os/linux/no-new-privileges","value":true},
		{"name":"os/linux/seccomp-remove-set","value":{"set":["mkdir"]}}]`)}
	// The pod app as stage0 writes it: the image's isolators with the
	// flags' applied (rkt 1.30 ran the pod app whole).
	pod.Isolators = append(append(types.Isolators(nil), img.Isolators...), pod.Isolators...)
	got := strings.Join(notApplied("web", img, pod), "\n")
	for _, want := range []string{
		"web: isolator resource/memory not applied: the fly stage1 applies no isolators",
		"web: isolator os/linux/capabilities-retain-set not applied: the fly stage1 applies no isolators",
		"web: isolator os/linux/seccomp-remove-set not applied: the fly stage1 applies no isolators",
		"web: isolator os/linux/no-new-privileges not applied: the fly stage1 applies no isolators",
		"web: isolator os/linux/sysctl not applied: ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if n := len(notApplied("web", &types.App{}, nil)); n != 0 {
		t.Errorf("an app without isolators got %d lines", n)
	}
}
