package acimanifest

import (
	"errors"
	"strings"
	"testing"

	"github.com/appc/spec/schema"
)

const imageHead = `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/app",`

const podHead = `{"acKind":"PodManifest","acVersion":"0.8.11",`

// TestIsolatorWithoutValue: each of these made appc/spec v0.8.11 panic.
func TestIsolatorWithoutValue(t *testing.T) {
	images := []string{
		imageHead + `"app":{"exec":["/bin/sh"],"user":"0","group":"0","isolators":[{"name":"resource/memory"}]}}`,
		imageHead + `"app":{"exec":["/bin/sh"],"user":"0","group":"0","isolators":[{"name":"resource/cpu","value":null}]}}`,
		imageHead + `"APP":{"exec":["/bin/sh"],"user":"0","group":"0","Isolators":[{"name":"os/linux/capabilities-retain-set"}]}}`,
		imageHead + `"app":{"user":0,"isolators":[{"name":"os/linux/no-new-privileges"}]}}`,
	}
	for _, s := range images {
		var im schema.ImageManifest
		if err := UnmarshalImage([]byte(s), &im); !errors.Is(err, ErrIsolatorWithoutValue) {
			t.Errorf("UnmarshalImage(%s) = %v, want ErrIsolatorWithoutValue", s, err)
		}
	}
	pods := []string{
		podHead + `"apps":[],"isolators":[{"name":"resource/memory"}]}`,
		podHead + `"apps":[{"name":"a","image":{"id":"sha512-` + strings.Repeat("0", 64) + `"},` +
			`"app":{"exec":["/bin/sh"],"user":"0","group":"0","isolators":[{"name":"resource/memory","value":null}]}}]}`,
	}
	for _, s := range pods {
		var pm schema.PodManifest
		if err := UnmarshalPod([]byte(s), &pm); !errors.Is(err, ErrIsolatorWithoutValue) {
			t.Errorf("UnmarshalPod(%s) = %v, want ErrIsolatorWithoutValue", s, err)
		}
	}
}

func TestValidManifestsPass(t *testing.T) {
	var im schema.ImageManifest
	img := imageHead + `"app":{"exec":["/bin/sh"],"user":"0","group":"0",` +
		`"isolators":[{"name":"resource/memory","value":{"limit":"1G"}},{"name":"resource/cpu","value":{"limit":"500m"}}]}}`
	if err := UnmarshalImage([]byte(img), &im); err != nil {
		t.Fatalf("UnmarshalImage: %v", err)
	}
	if im.Name != "example.com/app" || len(im.App.Isolators) != 2 {
		t.Errorf("image manifest %+v", im)
	}
	var pm schema.PodManifest
	pod := podHead + `"apps":[{"name":"a","image":{"id":"sha512-` + strings.Repeat("0", 64) + `"}}],` +
		`"isolators":[{"name":"resource/memory","value":{"limit":"1G"}}]}`
	if err := UnmarshalPod([]byte(pod), &pm); err != nil {
		t.Fatalf("UnmarshalPod: %v", err)
	}
	if len(pm.Apps) != 1 || len(pm.Isolators) != 1 {
		t.Errorf("pod manifest %+v", pm)
	}
	// Errors that are not about isolators are the schema's.
	if err := UnmarshalImage([]byte(`{"acKind":`), &im); err == nil || errors.Is(err, ErrIsolatorWithoutValue) {
		t.Errorf("truncated manifest: %v", err)
	}
}
