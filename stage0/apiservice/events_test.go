package apiservice

import (
	"testing"
	"time"

	"github.com/rkt/rkt/api/v1alpha"
	"github.com/rkt/rkt/stage0/pod"
)

// TestDiffEvents: the events two views of the disk imply, in the order
// they happened, for changes seen one by one and all at once.
func TestDiffEvents(t *testing.T) {
	now := time.Unix(2000, 0)
	started := time.Unix(1500, 0)
	empty := view{pods: map[string]podView{}, images: map[string]string{}}
	prepared := view{pods: map[string]podView{"p": {state: pod.Prepared, apps: []string{"a"}}}, images: map[string]string{"sha512-1": "example.com/x"}}
	running := view{pods: map[string]podView{"p": {state: pod.Running, started: started, apps: []string{"a"}}}, images: map[string]string{"sha512-1": "example.com/x"}}
	exited := view{pods: map[string]podView{"p": {state: pod.Exited, started: started, apps: []string{"a"}, exits: map[string]int{"a": 7}}}, images: map[string]string{}}
	P, S, AS, AE, X, GC, II, IR := v1alpha.EventType_EVENT_TYPE_POD_PREPARED, v1alpha.EventType_EVENT_TYPE_POD_STARTED,
		v1alpha.EventType_EVENT_TYPE_APP_STARTED, v1alpha.EventType_EVENT_TYPE_APP_EXITED, v1alpha.EventType_EVENT_TYPE_POD_EXITED,
		v1alpha.EventType_EVENT_TYPE_POD_GARBAGE_COLLECTED, v1alpha.EventType_EVENT_TYPE_IMAGE_IMPORTED, v1alpha.EventType_EVENT_TYPE_IMAGE_REMOVED
	for _, tc := range []struct {
		name     string
		old, cur view
		want     []v1alpha.EventType
	}{
		{"nothing", running, running, nil},
		{"prepared and image", empty, prepared, []v1alpha.EventType{P, II}},
		{"started", prepared, running, []v1alpha.EventType{S, AS}},
		{"exited, image removed", running, exited, []v1alpha.EventType{AE, X, IR}},
		{"ran between two looks", prepared, exited, []v1alpha.EventType{S, AS, AE, X, IR}},
		{"collected", exited, empty, []v1alpha.EventType{GC}},
	} {
		evs := diff(tc.old, tc.cur, now)
		var got []v1alpha.EventType
		for _, e := range evs {
			got = append(got, e.Type)
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: events %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: events %v, want %v", tc.name, got, tc.want)
				break
			}
		}
		for _, e := range evs {
			switch e.Type {
			case S, AS:
				if e.Time != started.Unix() {
					t.Errorf("%s: %v at %d, want the pod's start %d", tc.name, e.Type, e.Time, started.Unix())
				}
			case AE:
				if e.From != "a" || len(e.Data) != 1 || e.Data[0].Key != "exit_code" || e.Data[0].Value != "7" {
					t.Errorf("%s: app exit event %v", tc.name, e)
				}
			case II, IR:
				if e.Id != "sha512-1" || e.From != "example.com/x" {
					t.Errorf("%s: image event %v", tc.name, e)
				}
			}
		}
	}
}

func TestEventFilter(t *testing.T) {
	e := &v1alpha.Event{Type: v1alpha.EventType_EVENT_TYPE_APP_EXITED, Id: "p", From: "a", Time: 100}
	for _, tc := range []struct {
		f    *v1alpha.EventFilter
		want bool
	}{
		{nil, true},
		{&v1alpha.EventFilter{Types: []v1alpha.EventType{v1alpha.EventType_EVENT_TYPE_POD_EXITED}}, false},
		{&v1alpha.EventFilter{Types: []v1alpha.EventType{v1alpha.EventType_EVENT_TYPE_APP_EXITED}, Ids: []string{"p"}, Names: []string{"a"}}, true},
		{&v1alpha.EventFilter{Names: []string{"b"}}, false},
		{&v1alpha.EventFilter{SinceTime: 101}, false},
		{&v1alpha.EventFilter{SinceTime: 100, UntilTime: 101}, true},
		{&v1alpha.EventFilter{UntilTime: 100}, false},
	} {
		if got := matchesEventFilter(e, tc.f); got != tc.want {
			t.Errorf("filter %v: %v, want %v", tc.f, got, tc.want)
		}
	}
}
