package fetch

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage0/insecure"
	"github.com/rkt/rkt/store"
)

// OCIVerifyRequest is what a verifier of OCI image signatures is given,
// once the manifest to pull is known and before any layer is downloaded.
type OCIVerifyRequest struct {
	// Name is the trust name: registry and repository, without tag or
	// digest, Docker Hub names spelled out ("docker.io/library/busybox").
	Name string
	// Reference is the reference as pulled ("localhost:5000/team/app:1").
	Reference string
	// ManifestDigest is the digest of the image manifest pulled (after an
	// index was resolved to the host's platform), "sha256:<hex>".
	ManifestDigest string
	// Repository and RemoteOptions reach the registry with the pull's
	// transport and credentials.
	Repository    name.Repository
	RemoteOptions []remote.Option
	// IndexDigest, when the reference named a multi-platform index, is
	// the index's digest ("sha256:<hex>"); ManifestDigest is then the
	// platform manifest's.
	IndexDigest string
	// Layout and LayoutRef, for an image from an OCI layout, OCI archive
	// or docker archive, are its path (a layout directory; an archive is
	// unpacked first) and the ref asked for in it.
	Layout, LayoutRef string
}

// OCIVerifier checks the signature of an OCI image; an error refuses it.
type OCIVerifier func(ctx context.Context, req OCIVerifyRequest) error

// ErrOCIUnsigned: no verifier of OCI signatures is configured, and
// --insecure-options=image was not given.
var ErrOCIUnsigned = errors.New("no signature checked")

// refuseUnverifiedOCI is the verifier used when the Fetcher has none.
func refuseUnverifiedOCI(_ context.Context, req OCIVerifyRequest) error {
	return fmt.Errorf("%w: this rkt cannot verify signatures of OCI images yet (skip verification with --insecure-options=image)", ErrOCIUnsigned)
}

// Annotations on images converted from OCI images; the appc.io/docker/
// names are those of docker2aci, which rkt 1.30 used.
const (
	annRegistry       = "appc.io/docker/registryurl"
	annRepository     = "appc.io/docker/repository"
	annTag            = "appc.io/docker/tag"
	annManifestDigest = "appc.io/docker/manifesthash"
	annImageID        = "appc.io/docker/imageid"
	annEntrypoint     = "appc.io/docker/entrypoint"
	annCmd            = "appc.io/docker/cmd"
)

// layerName is the appc name of the image holding one OCI layer: one per
// diff ID (the digest of the uncompressed layer), shared by every image
// that has the layer, however it was compressed.
func layerName(d v1.Hash) string { return "oci-layer/" + d.Algorithm + "-" + d.Hex }

// ociTarget is a docker:// reference parsed.
type ociTarget struct {
	ref   name.Reference
	trust string // registry/repository
	appc  string // appc image name
	tag   string
}

// normalized is the reference as pulled, with the registry and
// repository spelled as the trust name: "<trust>:<tag>", or
// "<trust>@<digest>" when pulled by digest (the digest asked for, which
// may be an index's rather than digest, the manifest's).
func (t ociTarget) normalized(digest v1.Hash) string {
	if d, ok := t.ref.(name.Digest); ok {
		return t.trust + "@" + d.DigestStr()
	}
	if t.tag == "" {
		return t.trust + "@" + digest.String()
	}
	return t.trust + ":" + t.tag
}

func parseDockerRef(ref string, ins insecure.Set) (ociTarget, error) {
	s := strings.TrimPrefix(ref, "docker://")
	var opts []name.Option
	if ins.Has(insecure.HTTP) {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(s, opts...)
	if err != nil {
		return ociTarget{}, fmt.Errorf("parsing docker reference: %w", err)
	}
	return targetOf(r)
}

func targetOf(r name.Reference) (ociTarget, error) {
	repo := r.Context()
	reg := repo.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	t := ociTarget{ref: r, trust: reg + "/" + repo.RepositoryStr(), tag: "latest"}
	if tg, ok := r.(name.Tag); ok {
		t.tag = tg.TagStr()
	} else {
		t.tag = ""
	}
	id, err := types.SanitizeACIdentifier(strings.ToLower(t.trust))
	if err != nil {
		return ociTarget{}, fmt.Errorf("naming %s as an appc image: %w", t.trust, err)
	}
	t.appc = id
	return t, nil
}

// remoteOptions are the transport and credentials of a pull: rkt's HTTP
// client (TLS settings, auth.d headers), then the dockerAuth credentials of
// auth.d, then ~/.docker/config.json, each for its own registry only.
func (f *Fetcher) remoteOptions(ctx context.Context) []remote.Option {
	opts := []remote.Option{remote.WithContext(ctx), remote.WithJobs(4), remote.WithPlatform(hostPlatform())}
	if f.Client != nil && f.Client.Transport != nil {
		opts = append(opts, remote.WithTransport(f.Client.Transport))
	}
	kc := authn.NewMultiKeychain(dockerAuthKeychain(f.DockerAuth), authn.DefaultKeychain)
	return append(opts, remote.WithAuthFromKeychain(kc))
}

func hostPlatform() v1.Platform {
	p := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		p.Variant = "v7"
	}
	return p
}

// dockerAuthKeychain serves auth.d's dockerAuth credentials, keyed by
// registry host (index.docker.io for Docker Hub).
type dockerAuthKeychain map[string]DockerCredential

// DockerCredential is a user and password for one registry.
type DockerCredential struct{ User, Password string }

func (k dockerAuthKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	for _, host := range []string{r.RegistryStr(), r.String()} {
		if c, ok := k[host]; ok {
			return authn.FromConfig(authn.AuthConfig{Username: c.User, Password: c.Password}), nil
		}
	}
	if r.RegistryStr() == name.DefaultRegistry {
		for _, alias := range []string{"docker.io", "registry-1.docker.io"} {
			if c, ok := k[alias]; ok {
				return authn.FromConfig(authn.AuthConfig{Username: c.User, Password: c.Password}), nil
			}
		}
	}
	return authn.Anonymous, nil
}

// fetchDocker pulls a docker:// reference: the manifest (an index resolved
// to the host platform), the signature check, then the layers in
// parallel, each spooled while its digest is checked and only then
// converted into a layer image; then the top image, whose manifest carries
// the app of the OCI config and depends on the layer images by image ID.
func (f *Fetcher) fetchDocker(ctx context.Context, ref string) (string, error) {
	t, err := parseDockerRef(ref, f.Insecure)
	if err != nil {
		return "", fmt.Errorf("fetching %q: %w", ref, err)
	}
	if f.PullPolicy != PullUpdate {
		if key, err := f.findOCI(t); err == nil {
			f.diag("using image from local store for image name %s", t.ref.String())
			return key, nil
		} else if f.PullPolicy == PullNever {
			return "", fmt.Errorf("fetching %q: %w: %w (pull policy %q forbids going to the network)", ref, ErrNotInStore, err, f.PullPolicy)
		}
	}
	f.diag("fetching image from %s", t.ref.String())
	ropts := f.remoteOptions(ctx)
	desc, err := remote.Get(t.ref, ropts...)
	if err != nil {
		return "", fmt.Errorf("fetching %q: reading manifest: %w", ref, err)
	}
	img, err := desc.Image()
	if err != nil {
		return "", fmt.Errorf("fetching %q: reading manifest: %w", ref, err)
	}
	var indexDigest string
	if desc.MediaType.IsIndex() {
		indexDigest = desc.Digest.String()
	}
	digest, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("fetching %q: reading manifest: %w", ref, err)
	}
	if d, ok := t.ref.(name.Digest); ok && d.DigestStr() != digest.String() {
		// remote.Image resolves an index to a child; a digest pin must
		// name the manifest itself or the index holding it.
		if desc.Digest.String() != d.DigestStr() {
			return "", fmt.Errorf("fetching %q: %w: the registry served %s", ref, ErrDigestMismatch, digest)
		}
	}
	if f.Insecure.Has(insecure.Image) {
		f.warnNoVerification(ref)
	} else {
		verify := f.OCIVerifier
		if verify == nil {
			verify = refuseUnverifiedOCI
		}
		req := OCIVerifyRequest{Name: t.trust, Reference: t.ref.String(), ManifestDigest: digest.String(), IndexDigest: indexDigest, Repository: t.ref.Context(), RemoteOptions: ropts}
		if err := verify(ctx, req); err != nil {
			return "", fmt.Errorf("fetching %q: verifying signature of %s: %w (to trust its signer: rkt trust --prefix %s)", ref, digest, err, t.trust)
		}
	}
	return f.storeOCI(ctx, ref, t, img, digest)
}

// ErrDigestMismatch: a registry served a manifest other than the digest
// asked for.
var ErrDigestMismatch = errors.New("manifest digest does not match the reference")

// findOCI finds a converted image in the store by its reference.
func (f *Fetcher) findOCI(t ociTarget) (string, error) {
	if _, ok := t.ref.(name.Digest); ok {
		// A digest is matched against the annotation of every
		// candidate; a tag by its version label.
		return "", fmt.Errorf("finding %s: %w", t.ref, ErrNotInStore)
	}
	return f.Store.FindByName(t.appc, map[string]string{"version": t.tag})
}

// storeOCI stores the layers of img (those not in the store yet) and its
// top image.
func (f *Fetcher) storeOCI(ctx context.Context, ref string, t ociTarget, img v1.Image, digest v1.Hash) (string, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return "", fmt.Errorf("fetching %q: reading image config: %w", ref, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return "", fmt.Errorf("fetching %q: reading layers: %w", ref, err)
	}
	var total int64
	for _, l := range layers {
		if n, err := l.Size(); err == nil {
			total += n
		}
	}
	wrap, done := f.sharedProgress("Downloading "+ref, total)
	keys := make([]string, len(layers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(3)
	for i, l := range layers {
		g.Go(func() error {
			k, err := f.storeLayer(gctx, ref, l, wrap)
			keys[i] = k
			return err
		})
	}
	err = g.Wait()
	done()
	if err != nil {
		f.removeAdded(ctx)
		return "", err
	}
	m, err := ociManifest(t, cfg, digest, keys)
	if err != nil {
		f.removeAdded(ctx)
		return "", fmt.Errorf("fetching %q: %w", ref, err)
	}
	meta := &store.ImportMeta{Latest: t.tag == "latest", ManifestDigest: digest.String()}
	if strings.HasPrefix(ref, "docker://") {
		meta.RegistryReference = t.normalized(digest)
	}
	key, err := f.storeGenerated(ctx, ref, m, meta)
	if err != nil {
		f.removeAdded(ctx)
		return "", err
	}
	return key, nil
}

// removeAdded removes what this fetch stored so far.
func (f *Fetcher) removeAdded(ctx context.Context) {
	if a, ok := ctx.Value(addedImagesKey{}).(*addedImages); ok {
		for _, k := range a.list() {
			if err := f.Store.Remove(k); err != nil {
				f.log().Warn("removing an image stored by a failed fetch", "key", k, "err", err)
			}
		}
		a.mu.Lock()
		a.keys = nil
		a.mu.Unlock()
	}
}

// storeLayer stores one OCI layer as a layer image, unless the store has
// it already.
func (f *Fetcher) storeLayer(ctx context.Context, ref string, l v1.Layer, progress func(io.Reader) io.Reader) (string, error) {
	d, err := l.Digest()
	if err != nil {
		return "", fmt.Errorf("fetching %q: reading layer digest: %w", ref, err)
	}
	diffID, err := l.DiffID()
	if err != nil {
		return "", fmt.Errorf("fetching %q: layer %s: reading its diff ID: %w", ref, d, err)
	}
	if key, err := f.Store.FindByName(layerName(diffID), nil); err == nil {
		f.log().Debug("layer already in the store", "layer", d.String(), "key", key)
		// Used again: image gc's grace period starts anew.
		if err := f.Store.Touch(key); err != nil {
			f.log().Debug("touching a shared layer", "key", key, "err", err)
		}
		return key, nil
	}
	in, err := f.Store.NewIngest()
	if err != nil {
		return "", fmt.Errorf("fetching %q: layer %s: %w", ref, d, err)
	}
	defer in.Abort()
	// A layer image is only ever rendered under the images that depend
	// on it: checking its entries here and extracting them once, at
	// render, is enough.
	if err := in.NoTree(); err != nil {
		return "", fmt.Errorf("fetching %q: layer %s: %w", ref, d, err)
	}
	sp, err := in.NewSpool()
	if err != nil {
		return "", fmt.Errorf("fetching %q: layer %s: %w", ref, d, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return "", fmt.Errorf("fetching %q: downloading layer %s: %w", ref, d, err)
	}
	// go-containerregistry checks the digest and size when the body ends.
	_, err = io.Copy(sp, progress(rc))
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("fetching %q: downloading layer %s: %w", ref, d, withLimitHint(err))
	}
	spooled, err := sp.Reader()
	if err != nil {
		return "", fmt.Errorf("fetching %q: layer %s: %w", ref, d, err)
	}
	head := make([]byte, 8)
	n, _ := io.ReadFull(spooled, head)
	spooled, _ = sp.Reader()
	dr, err := decompressor(detect(head[:n]), spooled)
	if err != nil {
		return "", fmt.Errorf("fetching %q: decompressing layer %s: %w", ref, d, err)
	}
	defer dr.Close()
	// The layer is stored under its diff ID: the uncompressed bytes must
	// be those the (verified) config names, or another image sharing the
	// diff ID would get other files.
	uh := sha256.New()
	if err := convertLayer(in, io.TeeReader(dr, uh), diffID); err != nil {
		return "", fmt.Errorf("fetching %q: converting layer %s: %w", ref, d, withLimitHint(err))
	}
	if _, err := io.Copy(uh, dr); err != nil {
		return "", fmt.Errorf("fetching %q: decompressing layer %s: %w", ref, d, err)
	}
	if got := "sha256:" + hex.EncodeToString(uh.Sum(nil)); got != diffID.String() {
		return "", fmt.Errorf("fetching %q: layer %s: %w: uncompressed digest %s, the config says %s", ref, d, ErrDiffIDMismatch, got, diffID)
	}
	pending, err := in.Finish()
	if err != nil {
		return "", fmt.Errorf("fetching %q: layer %s: %w", ref, d, withLimitHint(err))
	}
	_, notStored := f.Store.Image(pending.Key)
	key, err := in.Commit(store.ImportMeta{})
	if err != nil {
		return "", fmt.Errorf("fetching %q: storing layer %s: %w", ref, d, err)
	}
	noteAdded(ctx, key, notStored == nil)
	return key, nil
}

// ErrDiffIDMismatch: a layer's uncompressed content is not what the image
// config says.
var ErrDiffIDMismatch = errors.New("layer content does not match the image config")

// convertLayer writes an ACI holding layer: the rootfs directory, the
// layer's entries under rootfs/, then a manifest naming the layer. Whiteout
// entries are left out and listed in the manifest (AnnWhiteouts); they are
// applied when a tree is rendered. The entries themselves are checked by
// the ingest's tarsafe rules.
func convertLayer(w io.Writer, layer io.Reader, d v1.Hash) error {
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(&tar.Header{Name: "rootfs", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		return err
	}
	var whiteouts []string
	tr := tar.NewReader(layer)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading layer tar: %w", err)
		}
		dir, base := path.Split(path.Clean("/" + h.Name))
		if strings.HasPrefix(base, ".wh.") {
			if base == ".wh..wh..opq" {
				whiteouts = append(whiteouts, dir)
			} else {
				whiteouts = append(whiteouts, path.Join(dir, strings.TrimPrefix(base, ".wh.")))
			}
			continue
		}
		tarHeaderRootfs(h)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return fmt.Errorf("reading layer tar: %w", err)
		}
	}
	m := schema.BlankImageManifest()
	n, err := types.NewACIdentifier(layerName(d))
	if err != nil {
		return err
	}
	m.Name = *n
	m.Annotations.Set(store.AnnLayer, d.String())
	if len(whiteouts) > 0 {
		b, err := json.Marshal(whiteouts)
		if err != nil {
			return err
		}
		m.Annotations.Set(store.AnnWhiteouts, string(b))
	}
	if err := writeManifest(tw, m); err != nil {
		return err
	}
	return tw.Close()
}

func writeManifest(tw *tar.Writer, m *schema.ImageManifest) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("writing manifest: %w", err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: "manifest", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b))}); err != nil {
		return err
	}
	_, err = tw.Write(b)
	return err
}

// storeGenerated stores an image of manifest m and an empty rootfs.
func (f *Fetcher) storeGenerated(ctx context.Context, ref string, m *schema.ImageManifest, meta *store.ImportMeta) (string, error) {
	in, err := f.Store.NewIngest()
	if err != nil {
		return "", fmt.Errorf("fetching %q: %w", ref, err)
	}
	defer in.Abort()
	tw := tar.NewWriter(in)
	if err := tw.WriteHeader(&tar.Header{Name: "rootfs", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		return "", fmt.Errorf("fetching %q: %w", ref, err)
	}
	if err := writeManifest(tw, m); err != nil {
		return "", fmt.Errorf("fetching %q: %w", ref, err)
	}
	if err := tw.Close(); err != nil {
		return "", fmt.Errorf("fetching %q: %w", ref, err)
	}
	pending, err := in.Finish()
	if err != nil {
		return "", fmt.Errorf("fetching %q: %w", ref, err)
	}
	_, notStored := f.Store.Image(pending.Key)
	if meta == nil {
		meta = &store.ImportMeta{}
	}
	key, err := in.Commit(*meta)
	if err != nil {
		return "", fmt.Errorf("fetching %q: storing %s: %w", ref, pending.Key, err)
	}
	noteAdded(ctx, key, notStored == nil)
	return key, nil
}

// ociManifest makes the top image's manifest.
func ociManifest(t ociTarget, cfg *v1.ConfigFile, digest v1.Hash, deps []string) (*schema.ImageManifest, error) {
	m := schema.BlankImageManifest()
	n, err := types.NewACIdentifier(t.appc)
	if err != nil {
		return nil, err
	}
	m.Name = *n
	osName, arch := cfg.OS, cfg.Architecture
	if osName == "" {
		osName = runtime.GOOS
	}
	if arch == "" {
		arch = runtime.GOARCH
	}
	if o, a, err := types.ToAppcOSArch(osName, arch, cfg.Variant); err == nil {
		osName, arch = o, a
	}
	m.Labels = types.Labels{{Name: "os", Value: osName}, {Name: "arch", Value: arch}}
	if t.tag != "" {
		m.Labels = append(m.Labels, types.Label{Name: "version", Value: t.tag})
	}
	for _, k := range deps {
		h, err := types.NewHash(k)
		if err != nil {
			return nil, err
		}
		m.Dependencies = append(m.Dependencies, types.Dependency{ImageName: *n, ImageID: h})
	}
	ann := func(k, v string) {
		if v != "" {
			m.Annotations.Set(types.ACIdentifier(k), v)
		}
	}
	ann(annRegistry, t.ref.Context().RegistryStr())
	ann(annRepository, t.ref.Context().RepositoryStr())
	ann(annTag, t.tag)
	ann(annManifestDigest, digest.String())
	c := cfg.Config
	if b, err := json.Marshal(c.Entrypoint); err == nil && len(c.Entrypoint) > 0 {
		ann(annEntrypoint, string(b))
	}
	if b, err := json.Marshal(c.Cmd); err == nil && len(c.Cmd) > 0 {
		ann(annCmd, string(b))
	}
	ann(podlayout.AnnotationStopSignal, c.StopSignal)
	if !cfg.Created.IsZero() {
		ann("created", cfg.Created.Format(time.RFC3339))
	}
	app, err := ociApp(c)
	if err != nil {
		return nil, err
	}
	m.App = app
	if app != nil && c.User != "" && !strings.Contains(c.User, ":") {
		// A user without a group: the user's primary group, resolved
		// in the image when the app starts.
		m.Annotations.Set(podlayout.AnnotationGroupFromPasswd, "true")
	}
	return m, nil
}

// ociApp maps an OCI image config to an appc app.
func ociApp(c v1.Config) (*types.App, error) {
	exec := append(append([]string{}, c.Entrypoint...), c.Cmd...)
	if len(exec) == 0 {
		return nil, nil
	}
	app := &types.App{Exec: exec, User: "0", Group: "0", WorkingDirectory: c.WorkingDir}
	if c.User != "" {
		// Without a group, Group stays a placeholder "0" and the image
		// is annotated podlayout.AnnotationGroupFromPasswd.
		u, g, ok := strings.Cut(c.User, ":")
		app.User = u
		if ok {
			app.Group = g
		}
	}
	for _, e := range c.Env {
		k, v, _ := strings.Cut(e, "=")
		app.Environment.Set(k, v)
	}
	var ports []string
	for p := range c.ExposedPorts {
		ports = append(ports, p)
	}
	sort.Strings(ports)
	for _, p := range ports {
		num, proto, _ := strings.Cut(p, "/")
		if proto == "" {
			proto = "tcp"
		}
		n, err := strconv.ParseUint(num, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("exposed port %q: %w", p, err)
		}
		pn, err := types.SanitizeACName(num + "-" + proto)
		if err != nil {
			return nil, err
		}
		app.Ports = append(app.Ports, types.Port{Name: *types.MustACName(pn), Protocol: proto, Port: uint(n), Count: 1})
	}
	var vols []string
	for v := range c.Volumes {
		vols = append(vols, v)
	}
	sort.Strings(vols)
	for _, v := range vols {
		vn, err := types.SanitizeACName("volume" + path.Clean("/"+v))
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", v, err)
		}
		app.MountPoints = append(app.MountPoints, types.MountPoint{Name: *types.MustACName(vn), Path: v})
	}
	return app, nil
}

// tarHeaderRootfs places a layer entry under rootfs/.
func tarHeaderRootfs(h *tar.Header) {
	h.Name = path.Join("rootfs", h.Name)
	if h.Typeflag == tar.TypeLink {
		h.Linkname = path.Join("rootfs", h.Linkname)
	}
}
