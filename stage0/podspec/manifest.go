package podspec

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/common/acimanifest"
	"github.com/rkt/rkt/common/isospec"
	"github.com/rkt/rkt/common/podlayout"
)

// ResolvedImage is an image of the plan as found in the store.
type ResolvedImage struct {
	Key      string // sha512-<64 hex>
	Manifest *schema.ImageManifest
}

// Manifest builds the pod manifest of plan; images[i] is plan.Apps[i]
// resolved. Following rkt v1.30:
//   - an app is named by --name, else by the last path element of its
//     image's name (sanitized to an ACName); two apps of one name are a
//     usage error naming --name as the fix;
//   - each RuntimeApp carries a copy of its image's app with the overrides
//     applied: --exec replaces the exec, "-- args" are appended to it,
//     --user, --group, --supplementary-gids, --working-dir replace, and the
//     environment is the image's, then --environment, then --set-env-file
//     and --set-env (which win), then with --inherit-env the variables of
//     this process that none of those set;
//   - the isolator flags (App.Isolators) replace the image's isolators of
//     their kind in that copy (isospec.Override);
//   - pod volumes are the --volume ones plus an empty volume (mode 0755,
//     uid and gid 0) for every image mount point that neither a --volume
//     nor a --mount of that app covers; a --mount naming an undeclared
//     volume is a usage error.
func Manifest(plan *Plan, images []ResolvedImage) (*schema.PodManifest, error) {
	if len(images) != len(plan.Apps) {
		return nil, fmt.Errorf("building pod manifest: %d images for %d apps", len(images), len(plan.Apps))
	}
	pm := &schema.PodManifest{
		ACVersion: schema.AppContainerVersion,
		ACKind:    schema.PodManifestKind,
		Volumes:   append([]types.Volume(nil), plan.Volumes...),
		Ports:     append([]types.ExposedPort(nil), plan.Ports...),
	}
	declared := map[types.ACName]bool{}
	for _, v := range plan.Volumes {
		declared[v.Name] = true
	}
	var inherited []types.EnvironmentVariable
	if plan.InheritEnv {
		inherited = hostEnvironment()
	}
	for i, a := range plan.Apps {
		img := images[i]
		if img.Manifest == nil {
			return nil, fmt.Errorf("building pod manifest: image %q: no manifest", a.Image)
		}
		ra, err := runtimeApp(plan, a, img, inherited)
		if err != nil {
			return nil, err
		}
		if pm.Apps.Get(ra.Name) != nil {
			return nil, usagef("two apps are named %q (from images %q): give each a different --name", ra.Name, a.Image)
		}
		for _, m := range ra.Mounts {
			if !declared[m.Volume] {
				return nil, usagef("--mount of app %q names volume %q, which no --volume declares", ra.Name, m.Volume)
			}
		}
		pm.Apps = append(pm.Apps, *ra)
		for k, v := range a.UserAnnotations {
			setKV((*map[string]string)(&pm.UserAnnotations), k, v)
		}
		for k, v := range a.UserLabels {
			setKV((*map[string]string)(&pm.UserLabels), k, v)
		}
	}
	// Implicit empty volumes for uncovered mount points, in app order.
	for _, ra := range pm.Apps {
		for _, mp := range ra.App.MountPoints {
			if declared[mp.Name] || mountedAt(ra.Mounts, mp) {
				continue
			}
			declared[mp.Name] = true
			mode, zero := "0755", 0
			pm.Volumes = append(pm.Volumes, types.Volume{Name: mp.Name, Kind: "empty", ReadOnly: boolPtr(mp.ReadOnly), Mode: &mode, UID: &zero, GID: &zero})
		}
	}
	// A manifest that the appc schema refuses is caught here, not in stage1.
	data, err := pm.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("building pod manifest: %w", err)
	}
	var check schema.PodManifest
	if err := check.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("building pod manifest: %w", err)
	}
	return pm, nil
}

func boolPtr(b bool) *bool { return &b }

func mountedAt(mounts []schema.Mount, mp types.MountPoint) bool {
	for _, m := range mounts {
		if m.Path == mp.Path || m.Volume == mp.Name {
			return true
		}
	}
	return false
}

// AppName is the name rkt gives an app of an image called imageName: its
// last path element, sanitized to an ACName.
func AppName(imageName string) (string, error) {
	last := imageName[strings.LastIndex(imageName, "/")+1:]
	name, err := types.SanitizeACName(last)
	if err != nil {
		return "", fmt.Errorf("naming the app of image %q: %w", imageName, err)
	}
	if err := podlayout.ValidAppName(name); err != nil {
		return "", fmt.Errorf("naming the app of image %q: %w", imageName, err)
	}
	return name, nil
}

func runtimeApp(plan *Plan, a App, img ResolvedImage, inherited []types.EnvironmentVariable) (*schema.RuntimeApp, error) {
	im := img.Manifest
	name := a.Name
	if name == "" {
		var err error
		if name, err = AppName(im.Name.String()); err != nil {
			return nil, usagef("%v: give the app a name with --name", err)
		}
	}
	id, err := types.NewHash(img.Key)
	if err != nil {
		return nil, fmt.Errorf("building pod manifest: image %q: key %q: %w", a.Image, img.Key, err)
	}
	imgName := im.Name
	ra := &schema.RuntimeApp{
		Name:           types.ACName(name),
		Image:          schema.RuntimeImage{Name: &imgName, ID: *id, Labels: append(types.Labels(nil), im.Labels...)},
		ReadOnlyRootFS: a.ReadOnlyRootfs,
		Mounts:         MergeMounts(a.Mounts, plan.Mounts),
	}
	app := copyApp(im.App)
	if app == nil {
		if len(a.Exec) == 0 {
			return nil, usagef("image %q has no app to run: give it one with --exec", a.Image)
		}
		app = &types.App{User: "0", Group: "0"}
	}
	if len(a.Exec) > 0 {
		app.Exec = append(types.Exec(nil), a.Exec...)
	}
	app.Exec = append(app.Exec, a.Args...)
	if len(app.Exec) == 0 {
		return nil, usagef("image %q has no exec: give it one with --exec", a.Image)
	}
	if a.User != "" {
		app.User = a.User
	}
	if a.Group != "" {
		app.Group = a.Group
	}
	if a.SupplementaryGIDs != nil {
		app.SupplementaryGIDs = append([]int(nil), a.SupplementaryGIDs...)
	}
	if a.WorkingDir != "" {
		app.WorkingDirectory = a.WorkingDir
	}
	for _, k := range sortedKeys(a.Environment) {
		app.Environment.Set(k, a.Environment[k])
	}
	for _, k := range sortedKeys(plan.Runtime.SetEnv) {
		app.Environment.Set(k, plan.Runtime.SetEnv[k])
	}
	for _, ev := range inherited {
		if _, ok := app.Environment.Get(ev.Name); !ok {
			app.Environment.Set(ev.Name, ev.Value)
		}
	}
	isos, err := a.Isolators()
	if err != nil {
		return nil, err
	}
	if len(isos) > 0 {
		isospec.Override(app, isos)
	}
	ra.App = app
	if v, ok := im.Annotations.Get(podlayout.AnnotationGroupFromPasswd); ok && v == "true" && a.Group == "" {
		ra.Annotations.Set(podlayout.AnnotationGroupFromPasswd, "true")
	}
	for _, k := range sortedKeys(a.Annotations) {
		ra.Annotations.Set(types.ACIdentifier(k), a.Annotations[k])
	}
	return ra, nil
}

// copyApp copies the parts of an image's app that overrides change.
func copyApp(in *types.App) *types.App {
	if in == nil {
		return nil
	}
	out := *in
	out.Exec = append(types.Exec(nil), in.Exec...)
	out.Environment = append(types.Environment(nil), in.Environment...)
	out.SupplementaryGIDs = append([]int(nil), in.SupplementaryGIDs...)
	out.Isolators = append(types.Isolators(nil), in.Isolators...)
	return &out
}

// hostEnvironment is this process's environment, leaving out names that
// the appc schema refuses.
func hostEnvironment() []types.EnvironmentVariable {
	var out []types.EnvironmentVariable
	seen := map[string]bool{}
	for _, kv := range os.Environ() {
		k, v, ok := strings.Cut(kv, "=")
		// Left out, as names the schema refuses are: values a pod cannot
		// carry (not UTF-8, or with a NUL), which the flags refuse.
		if !ok || !validEnvName(k) || seen[k] || checkEnvValue("", k, v) != nil {
			continue
		}
		seen[k] = true
		out = append(out, types.EnvironmentVariable{Name: k, Value: v})
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// LoadManifest reads a pod manifest given with --pod-manifest and checks
// what stage0 will turn into paths: app names, volume names, mount targets.
func LoadManifest(path string) (*schema.PodManifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading pod manifest: %w", err)
	}
	var pm schema.PodManifest
	if err := acimanifest.UnmarshalPod(data, &pm); err != nil {
		return nil, fmt.Errorf("reading pod manifest %s: %w", path, err)
	}
	// The schema reads what it cannot write (a manifest without
	// acVersion): refuse it here, not after its images are fetched.
	if _, err := pm.MarshalJSON(); err != nil {
		return nil, fmt.Errorf("reading pod manifest %s: %w", path, err)
	}
	if len(pm.Apps) == 0 {
		return nil, fmt.Errorf("reading pod manifest %s: no apps", path)
	}
	for _, ra := range pm.Apps {
		if err := podlayout.ValidAppName(ra.Name.String()); err != nil {
			return nil, fmt.Errorf("reading pod manifest %s: %w", path, err)
		}
		if ra.Image.ID.Empty() && ra.Image.Name == nil {
			return nil, fmt.Errorf("reading pod manifest %s: app %q: image has neither an ID nor a name", path, ra.Name)
		}
		for _, m := range ra.Mounts {
			if err := checkTarget(m.Path); err != nil {
				return nil, fmt.Errorf("reading pod manifest %s: app %q: %w", path, ra.Name, err)
			}
		}
		if ra.App != nil {
			for _, ev := range ra.App.Environment {
				if err := checkEnvValue(fmt.Sprintf("reading pod manifest %s: app %q", path, ra.Name), ev.Name, ev.Value); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, v := range pm.Volumes {
		if err := podlayout.ValidAppName(v.Name.String()); err != nil {
			return nil, fmt.Errorf("reading pod manifest %s: volume %q: %w", path, v.Name, err)
		}
	}
	return &pm, nil
}
