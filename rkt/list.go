package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
	v1 "github.com/rkt/rkt/api/v1"
	"github.com/rkt/rkt/stage0/pod"
	"github.com/spf13/cobra"
)

func newListCmd(g *globalFlags) *cobra.Command {
	var (
		full, noLegend bool
		format         string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List pods",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			dir, err := g.dataDir(cmd)
			if err != nil {
				return err
			}
			pods, err := pod.List(dir)
			if err != nil {
				return fmt.Errorf("listing pods: %w", err)
			}
			descs := make([]*podDesc, 0, len(pods))
			for _, p := range pods {
				d, err := describePod(p)
				if err != nil {
					// A pod being created or deleted under us: show what is known.
					g.log.Debug(err.Error())
				}
				descs = append(descs, d)
			}
			switch format {
			case formatJSON, formatJSONPretty:
				out := make([]v1.Pod, len(descs))
				for i, d := range descs {
					out[i] = d.Pod
				}
				return printJSON(g.stdout, out, format == formatJSONPretty)
			}
			return printPodTable(g, descs, full, noLegend, time.Now())
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&full, "full", false, "use long output format")
	fl.BoolVar(&noLegend, "no-legend", false, "suppress a legend with the list")
	fl.StringVar(&format, "format", "", "choose the output format, allowed format includes 'json', 'json-pretty'. If empty, then the result is printed as key value pairs")
	return cmd
}

// podDesc is what list and status show of one pod.
type podDesc struct {
	v1.Pod
	created, started time.Time
	pid              int // the pod's PID 1 while it runs; 0 otherwise
	apps             []appDesc
}

type appDesc struct {
	name, imageName, imageID string
	exitCode                 *int
}

// describePod reads a pod's manifest and status. On error the description
// holds what could be read (at least the UUID and state).
func describePod(p *pod.Pod) (*podDesc, error) {
	d := &podDesc{Pod: v1.Pod{UUID: p.UUID, State: string(p.State)}}
	info, err := p.Info()
	if err != nil {
		return d, fmt.Errorf("reading the status of pod %s: %w", p.UUID, err)
	}
	d.created, d.started = info.Created, info.Started
	d.CreatedAt, d.StartedAt = unixPtr(info.Created), unixPtr(info.Started)
	d.State = string(info.State)
	d.pid = info.Pid
	for _, n := range info.Networks {
		d.Networks = append(d.Networks, v1.NetInfo{NetName: n.Name, IfName: n.IfName, IP: n.IP, Mask: n.Mask, Args: n.Args})
	}
	pm, _, err := p.Manifest()
	if err != nil {
		return d, fmt.Errorf("reading the manifest of pod %s: %w", p.UUID, err)
	}
	vols := map[types.ACName]types.Volume{}
	for _, v := range pm.Volumes {
		vols[v.Name] = v
	}
	for _, ra := range pm.Apps {
		a := appDesc{name: ra.Name.String(), imageID: ra.Image.ID.String()}
		if ra.Image.Name != nil {
			a.imageName = ra.Image.Name.String()
			if v, ok := ra.Image.Labels.Get("version"); ok {
				a.imageName += ":" + v
			}
		}
		if code, ok := info.AppExit[a.name]; ok {
			a.exitCode = &code
		}
		d.apps = append(d.apps, a)
		d.AppNames = append(d.AppNames, a.name)
		d.Apps = append(d.Apps, apiApp(ra, a, vols, info))
	}
	if len(pm.UserAnnotations) > 0 {
		d.UserAnnotations = map[string]string(pm.UserAnnotations)
	}
	if len(pm.UserLabels) > 0 {
		d.UserLabels = map[string]string(pm.UserLabels)
	}
	return d, nil
}

// apiApp is one app in rkt 1.30's api/v1 shape. Every pod here is
// immutable (its apps are fixed when it is prepared), so, as rkt 1.30 did
// for such pods, the app's state follows the pod's, an exit code makes it
// exited, and its times are the pod's, in nanoseconds.
func apiApp(ra schema.RuntimeApp, a appDesc, vols map[types.ACName]types.Volume, info *pod.Info) *v1.App {
	app := &v1.App{Name: a.name, ImageID: a.imageID, State: appStateOf(info.State)}
	if ra.App != nil {
		if len(ra.App.UserAnnotations) > 0 {
			app.UserAnnotations = map[string]string(ra.App.UserAnnotations)
		}
		if len(ra.App.UserLabels) > 0 {
			app.UserLabels = map[string]string(ra.App.UserLabels)
		}
	}
	for _, m := range ra.Mounts {
		mnt := &v1.Mount{Name: m.Volume.String(), ContainerPath: m.Path}
		v := vols[m.Volume]
		if m.AppVolume != nil {
			v = *m.AppVolume
		}
		mnt.HostPath = v.Source
		if v.ReadOnly != nil {
			mnt.ReadOnly = *v.ReadOnly
		}
		app.Mounts = append(app.Mounts, mnt)
	}
	app.CreatedAt = unixNanoPtr(info.Created)
	if a.exitCode != nil {
		app.State = v1.AppStateExited
		c := int32(*a.exitCode)
		app.ExitCode = &c
	}
	app.StartedAt = unixNanoPtr(info.Started)
	app.FinishedAt = unixNanoPtr(info.GCMarked)
	return app
}

// appStateOf is an app's state in a pod of state s.
func appStateOf(s pod.State) v1.AppState {
	switch s {
	case pod.Prepared:
		return v1.AppStateCreated
	case pod.Running:
		return v1.AppStateRunning
	case pod.Deleting, pod.ExitedDeleting, pod.Exited, pod.ExitedGarbage, pod.Garbage:
		return v1.AppStateExited
	}
	return v1.AppStateUnknown
}

func unixNanoPtr(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

func unixPtr(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	s := t.Unix()
	return &s
}

// fmtNetworks renders networks as rkt did: name:ip4=IP, comma separated.
func fmtNetworks(nets []v1.NetInfo) string {
	parts := make([]string, 0, len(nets))
	for _, n := range nets {
		if n.IP == "" {
			parts = append(parts, n.NetName)
			continue
		}
		parts = append(parts, n.NetName+":ip4="+n.IP)
	}
	return strings.Join(parts, ", ") // rkt 1.30's separator
}

// printPodTable prints rkt's list table: one row per app, the pod's
// columns on its first app's row only.
func printPodTable(g *globalFlags, descs []*podDesc, full, noLegend bool, now time.Time) error {
	tw := newTable(g.stdout)
	if !noLegend {
		if full {
			fmt.Fprintln(tw, "UUID\tAPP\tIMAGE NAME\tIMAGE ID\tSTATE\tCREATED\tSTARTED\tNETWORKS")
		} else {
			fmt.Fprintln(tw, "UUID\tAPP\tIMAGE NAME\tSTATE\tCREATED\tSTARTED\tNETWORKS")
		}
	}
	when := func(t time.Time) string {
		switch {
		case t.IsZero():
			return "-"
		case full:
			return t.Format(timeLayout)
		}
		return relTime(t, now)
	}
	for _, d := range descs {
		uuid := d.UUID
		if !full && len(uuid) > 8 {
			uuid = uuid[:8]
		}
		apps := d.apps
		if len(apps) == 0 {
			apps = []appDesc{{name: "-", imageName: "-", imageID: "-"}}
		}
		for i, a := range apps {
			podCols := []string{uuid, d.State, when(d.created), when(d.started), fmtNetworks(d.Networks)}
			if i > 0 {
				podCols = []string{"", "", "", "", ""}
			}
			cols := []string{podCols[0], a.name, a.imageName}
			if full {
				// rkt 1.30 showed the ID's first 19 characters: sha512-
				// and 12 hex digits, what image commands take.
				id := a.imageID
				if len(id) > len("sha512-")+12 {
					id = id[:len("sha512-")+12]
				}
				cols = append(cols, id)
			}
			cols = append(cols, podCols[1:]...)
			fmt.Fprintln(tw, strings.Join(cols, "\t"))
		}
	}
	return tw.Flush()
}
