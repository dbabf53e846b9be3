package apiservice

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/rkt/rkt/api/v1alpha"
	"github.com/rkt/rkt/stage0/pod"
	"github.com/rkt/rkt/store"
)

// EventPollInterval is how often a ListenEvents stream looks at the disk.
const EventPollInterval = 250 * time.Millisecond

// The events of ListenEvents are derived from the disk, as everything
// else here: each stream takes a view of the pods and images when it
// opens and, every EventPollInterval, compares a new view with the last
// one. A change yields the events it implies, in the order they must have
// happened (a pod that started and exited between two looks yields
// started, then exited). Nothing is remembered across streams or
// restarts, so a stream reports what happens while it is open.
//
//	pod moves to prepared                  POD_PREPARED
//	pod moves to aborted prepare           POD_PREPARE_ABORTED
//	pod has started (it has a start time)  POD_STARTED, then APP_STARTED per app
//	an app's exit code is written          APP_EXITED (data: exit_code)
//	pod has run and no longer runs         POD_EXITED
//	pod directory removed by gc or rm      POD_GARBAGE_COLLECTED
//	image row appears / disappears         IMAGE_IMPORTED / IMAGE_REMOVED

// podView is what the events of one pod are derived from.
type podView struct {
	state   pod.State
	started time.Time
	apps    []string
	exits   map[string]int
}

type view struct {
	pods   map[string]podView
	images map[string]string // image ID -> name
}

// look reads the current view of dataDir.
func look(dataDir string) (view, error) {
	v := view{pods: map[string]podView{}, images: map[string]string{}}
	pods, err := pod.List(dataDir)
	if err != nil {
		return v, err
	}
	for _, p := range pods {
		info, err := p.Info()
		if errors.Is(err, pod.ErrNotFound) {
			continue
		}
		pv := podView{state: p.State, exits: map[string]int{}}
		if err == nil {
			pv.state, pv.started = info.State, info.Started
			for _, a := range info.Apps {
				pv.apps = append(pv.apps, a.Name)
			}
			pv.exits = info.AppExit
		}
		v.pods[p.UUID] = pv
	}
	st := store.OpenReadOnly(dataDir)
	defer st.Close()
	rows, err := st.Images()
	if err != nil {
		return v, err
	}
	for _, r := range rows {
		if !r.Layer { // parts of their images, as in ListImages
			v.images[r.Key] = r.Name
		}
	}
	return v, nil
}

// diff lists the events that lead from old to cur, pods first (in UUID
// order), then images; now stamps the events the disk keeps no time for.
func diff(old, cur view, now time.Time) []*v1alpha.Event {
	var evs []*v1alpha.Event
	ev := func(t v1alpha.EventType, id, from string, at time.Time, data ...*v1alpha.KeyValue) {
		evs = append(evs, &v1alpha.Event{Type: t, Id: id, From: from, Time: at.Unix(), Data: data})
	}
	for _, id := range sortedKeys(cur.pods) {
		c, o := cur.pods[id], old.pods[id]
		if c.state == pod.Prepared && o.state != pod.Prepared {
			ev(v1alpha.EventType_EVENT_TYPE_POD_PREPARED, id, "", now)
		}
		if c.state == pod.AbortedPrepare && o.state != pod.AbortedPrepare {
			ev(v1alpha.EventType_EVENT_TYPE_POD_PREPARE_ABORTED, id, "", now)
		}
		if !c.started.IsZero() && o.started.IsZero() {
			ev(v1alpha.EventType_EVENT_TYPE_POD_STARTED, id, "", c.started)
			for _, a := range c.apps {
				ev(v1alpha.EventType_EVENT_TYPE_APP_STARTED, id, a, c.started)
			}
		}
		for _, a := range c.apps {
			code, ok := c.exits[a]
			if _, had := o.exits[a]; ok && !had {
				ev(v1alpha.EventType_EVENT_TYPE_APP_EXITED, id, a, now, &v1alpha.KeyValue{Key: "exit_code", Value: strconv.Itoa(code)})
			}
		}
		if exited(c) && !exited(o) {
			ev(v1alpha.EventType_EVENT_TYPE_POD_EXITED, id, "", now)
		}
	}
	for _, id := range sortedKeys(old.pods) {
		if _, ok := cur.pods[id]; !ok {
			ev(v1alpha.EventType_EVENT_TYPE_POD_GARBAGE_COLLECTED, id, "", now)
		}
	}
	for _, id := range sortedKeys(cur.images) {
		if _, ok := old.images[id]; !ok {
			ev(v1alpha.EventType_EVENT_TYPE_IMAGE_IMPORTED, id, cur.images[id], now)
		}
	}
	for _, id := range sortedKeys(old.images) {
		if _, ok := cur.images[id]; !ok {
			ev(v1alpha.EventType_EVENT_TYPE_IMAGE_REMOVED, id, old.images[id], now)
		}
	}
	return evs
}

// exited: the pod ran and no longer runs.
func exited(p podView) bool {
	return p.state.AfterRun() && p.state != pod.Running
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// matchesEventFilter reports whether e passes f (nil passes everything).
func matchesEventFilter(e *v1alpha.Event, f *v1alpha.EventFilter) bool {
	switch {
	case f == nil:
		return true
	case len(f.Types) > 0 && !slices.Contains(f.Types, e.Type),
		len(f.Ids) > 0 && !slices.Contains(f.Ids, e.Id),
		len(f.Names) > 0 && !slices.Contains(f.Names, e.From),
		f.SinceTime > 0 && e.Time < f.SinceTime,
		f.UntilTime > 0 && e.Time >= f.UntilTime:
		return false
	}
	return true
}

// ListenEvents streams the events of pods, apps and images from the
// moment the stream opens, until the client goes away or the filter's
// until_time passes.
func (s *Service) ListenEvents(req *v1alpha.ListenEventsRequest, stream v1alpha.PublicAPI_ListenEventsServer) error {
	ctx := stream.Context()
	f := req.GetFilter()
	if u := f.GetUntilTime(); u > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, time.Unix(u, 0))
		defer cancel()
	}
	last, err := look(s.flags.DataDir)
	if err != nil {
		return errStatus(err, "reading pods and images")
	}
	// An empty first message tells the client the stream is open and
	// every later change will be reported.
	if err := stream.Send(&v1alpha.ListenEventsResponse{}); err != nil {
		return err
	}
	t := time.NewTicker(EventPollInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopping:
			return status.Error(codes.Unavailable, "the api-service is stopping")
		case <-ctx.Done():
			if f.GetUntilTime() > 0 && stream.Context().Err() == nil {
				return nil // until_time passed: the stream ends
			}
			return ctx.Err()
		case <-t.C:
		}
		cur, err := look(s.flags.DataDir)
		if err != nil {
			s.log.Warn("reading pods and images for events: " + err.Error())
			continue
		}
		var out []*v1alpha.Event
		for _, e := range diff(last, cur, time.Now()) {
			if matchesEventFilter(e, f) {
				out = append(out, e)
			}
		}
		last = cur
		if len(out) == 0 {
			continue
		}
		if err := stream.Send(&v1alpha.ListenEventsResponse{Events: out}); err != nil {
			return err
		}
	}
}
