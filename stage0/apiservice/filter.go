package apiservice

import (
	"path"
	"slices"
	"strings"

	"github.com/rkt/rkt/api/v1alpha"
)

// A request's filters are alternatives: a pod or image is listed when it
// matches any of them, or when there are none. Within a filter, every
// field that is set must match. These are rkt 1.30's semantics.

func matchesAnyPodFilter(p *v1alpha.Pod, filters []*v1alpha.PodFilter) bool {
	if len(filters) == 0 {
		return true
	}
	return slices.ContainsFunc(filters, func(f *v1alpha.PodFilter) bool { return matchesPodFilter(p, f) })
}

func matchesPodFilter(p *v1alpha.Pod, f *v1alpha.PodFilter) bool {
	var apps, images, nets []string
	for _, a := range p.Apps {
		apps = append(apps, a.Name)
		images = append(images, a.GetImage().GetId())
	}
	for _, n := range p.Networks {
		nets = append(nets, n.Name)
	}
	switch {
	case len(f.Ids) > 0 && !slices.Contains(f.Ids, p.Id),
		len(f.States) > 0 && !slices.Contains(f.States, p.State),
		!containsAll(apps, f.AppNames),
		!containsAll(images, f.ImageIds),
		!containsAll(nets, f.NetworkNames),
		!hasKeyValues(p.Annotations, f.Annotations),
		len(f.Cgroups) > 0 && !slices.Contains(f.Cgroups, p.Cgroup):
		return false
	}
	if len(f.PodSubCgroups) > 0 {
		// The pod's cgroup contains one of them (is a prefix of it).
		if p.Cgroup == "" || !slices.ContainsFunc(f.PodSubCgroups, func(c string) bool { return strings.HasPrefix(c, p.Cgroup) }) {
			return false
		}
	}
	return true
}

func matchesAnyImageFilter(img *v1alpha.Image, filters []*v1alpha.ImageFilter) bool {
	if len(filters) == 0 {
		return true
	}
	return slices.ContainsFunc(filters, func(f *v1alpha.ImageFilter) bool { return matchesImageFilter(img, f) })
}

func matchesImageFilter(img *v1alpha.Image, f *v1alpha.ImageFilter) bool {
	anyOf := func(want []string, match func(w string) bool) bool {
		return len(want) == 0 || slices.ContainsFunc(want, match)
	}
	switch {
	case !anyOf(f.Ids, func(w string) bool { return w == img.Id }),
		!anyOf(f.FullNames, func(w string) bool { return w == img.Name }),
		!anyOf(f.Prefixes, func(w string) bool { return strings.HasPrefix(img.Name, w) }),
		!anyOf(f.BaseNames, func(w string) bool { return path.Base(img.Name) == w }),
		!anyOf(f.Keywords, func(w string) bool { return strings.Contains(img.Name, w) }),
		f.ImportedAfter > 0 && img.ImportTimestamp <= f.ImportedAfter,
		f.ImportedBefore > 0 && img.ImportTimestamp >= f.ImportedBefore,
		!hasKeyValues(img.Labels, f.Labels),
		!hasKeyValues(img.Annotations, f.Annotations):
		return false
	}
	return true
}

// containsAll reports whether have holds every element of want.
func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// hasKeyValues reports whether have holds every key of want with its value.
func hasKeyValues(have, want []*v1alpha.KeyValue) bool {
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h *v1alpha.KeyValue) bool { return h.Key == w.Key && h.Value == w.Value }) {
			return false
		}
	}
	return true
}
