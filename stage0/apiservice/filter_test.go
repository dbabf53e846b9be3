package apiservice

import (
	"testing"

	"github.com/rkt/rkt/api/v1alpha"
)

// TestImageFilter: rkt 1.30's image filter fields, each alone and
// combined; import times are exclusive bounds.
func TestImageFilter(t *testing.T) {
	img := &v1alpha.Image{
		Id: "sha512-aa", Name: "example.com/etcd", ImportTimestamp: 100,
		Labels:      []*v1alpha.KeyValue{{Key: "version", Value: "3"}, {Key: "os", Value: "linux"}},
		Annotations: []*v1alpha.KeyValue{{Key: "team", Value: "db"}},
	}
	kv := func(k, v string) []*v1alpha.KeyValue { return []*v1alpha.KeyValue{{Key: k, Value: v}} }
	for _, tc := range []struct {
		name string
		f    *v1alpha.ImageFilter
		want bool
	}{
		{"empty", &v1alpha.ImageFilter{}, true},
		{"id", &v1alpha.ImageFilter{Ids: []string{"sha512-bb", "sha512-aa"}}, true},
		{"other id", &v1alpha.ImageFilter{Ids: []string{"sha512-bb"}}, false},
		{"base name", &v1alpha.ImageFilter{BaseNames: []string{"etcd"}}, true},
		{"base name is whole", &v1alpha.ImageFilter{BaseNames: []string{"etc"}}, false},
		{"keyword", &v1alpha.ImageFilter{Keywords: []string{"tcd"}}, true},
		{"prefix", &v1alpha.ImageFilter{Prefixes: []string{"example.com/"}}, true},
		{"full name", &v1alpha.ImageFilter{FullNames: []string{"etcd"}}, false},
		{"label", &v1alpha.ImageFilter{Labels: kv("version", "3")}, true},
		{"label value", &v1alpha.ImageFilter{Labels: kv("version", "2")}, false},
		{"annotation", &v1alpha.ImageFilter{Annotations: kv("team", "db")}, true},
		{"after", &v1alpha.ImageFilter{ImportedAfter: 99}, true},
		{"not after itself", &v1alpha.ImageFilter{ImportedAfter: 100}, false},
		{"before", &v1alpha.ImageFilter{ImportedBefore: 101}, true},
		{"not before itself", &v1alpha.ImageFilter{ImportedBefore: 100}, false},
		{"and", &v1alpha.ImageFilter{BaseNames: []string{"etcd"}, Labels: kv("os", "windows")}, false},
	} {
		if got := matchesImageFilter(img, tc.f); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if !matchesAnyImageFilter(img, nil) || !matchesAnyImageFilter(img, []*v1alpha.ImageFilter{{Ids: []string{"x"}}, {Keywords: []string{"etcd"}}}) {
		t.Error("filters are alternatives, and no filter matches everything")
	}
}

// TestPodFilter: app, image and network filters need all their values;
// a pod without a cgroup matches no cgroup filter.
func TestPodFilter(t *testing.T) {
	p := &v1alpha.Pod{
		Id: "u", State: v1alpha.PodState_POD_STATE_RUNNING, Cgroup: "/machine.slice/rkt-u",
		Apps: []*v1alpha.App{
			{Name: "a", Image: &v1alpha.Image{Id: "sha512-1"}},
			{Name: "b", Image: &v1alpha.Image{Id: "sha512-2"}},
		},
		Networks: []*v1alpha.Network{{Name: "default"}},
	}
	for _, tc := range []struct {
		name string
		f    *v1alpha.PodFilter
		want bool
	}{
		{"apps", &v1alpha.PodFilter{AppNames: []string{"a", "b"}}, true},
		{"all apps needed", &v1alpha.PodFilter{AppNames: []string{"a", "c"}}, false},
		{"images", &v1alpha.PodFilter{ImageIds: []string{"sha512-2"}}, true},
		{"networks", &v1alpha.PodFilter{NetworkNames: []string{"default", "lan"}}, false},
		{"state", &v1alpha.PodFilter{States: []v1alpha.PodState{v1alpha.PodState_POD_STATE_EXITED}}, false},
		{"sub-cgroup", &v1alpha.PodFilter{PodSubCgroups: []string{"/machine.slice/rkt-u/a"}}, true},
		{"other sub-cgroup", &v1alpha.PodFilter{PodSubCgroups: []string{"/machine.slice/other"}}, false},
	} {
		if got := matchesPodFilter(p, tc.f); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	noCgroup := &v1alpha.Pod{Id: "v"}
	if matchesPodFilter(noCgroup, &v1alpha.PodFilter{PodSubCgroups: []string{"/"}}) {
		t.Error("a pod without a cgroup matched a sub-cgroup filter")
	}
}
