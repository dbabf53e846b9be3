package fetch

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/rkt/rkt/stage0/insecure"
)

// Prefixes of local OCI and Docker image references.
const (
	prefixOCIArchive    = "oci-archive:"
	prefixOCILayout     = "oci:"
	prefixDockerArchive = "docker-archive:"
)

// ErrNoImageInLayout: an OCI layout holds no image of the name asked for,
// or several and none was asked for.
var ErrNoImageInLayout = errors.New("no such image in the OCI layout")

// fetchLocalOCI imports an image from an OCI layout directory
// (oci:DIR[:ref]), an OCI layout tarball (oci-archive:PATH[:ref]) or a
// `docker save` tarball (docker-archive:PATH). Like files, they are always
// imported, whatever the pull policy; layers already in the store are
// kept.
func (f *Fetcher) fetchLocalOCI(ctx context.Context, ref string) (string, error) {
	var (
		img      v1.Image
		err      error
		where    string
		imgRef   string
		cleanup  = func() {}
		fromPath string
	)
	switch {
	case strings.HasPrefix(ref, prefixDockerArchive):
		where = strings.TrimPrefix(ref, prefixDockerArchive)
		fromPath = where
		f.diag("using image from docker archive %s", where)
		img, err = tarball.ImageFromPath(where, nil)
	case strings.HasPrefix(ref, prefixOCIArchive):
		where, imgRef = splitLayoutRef(strings.TrimPrefix(ref, prefixOCIArchive))
		f.diag("using image from OCI archive %s", where)
		var dir string
		dir, err = unpackLayout(where)
		fromPath = dir
		if err == nil {
			cleanup = func() { os.RemoveAll(dir) }
			img, err = layoutImage(dir, imgRef)
		}
	default:
		where, imgRef = splitLayoutRef(strings.TrimPrefix(ref, prefixOCILayout))
		fromPath = where
		f.diag("using image from OCI layout %s", where)
		img, err = layoutImage(where, imgRef)
	}
	defer cleanup()
	if err != nil {
		return "", fmt.Errorf("fetching %q: %w", ref, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("fetching %q: reading manifest: %w", ref, err)
	}
	if f.Insecure.Has(insecure.Image) {
		f.warnNoVerification(ref)
	} else {
		verify := f.OCIVerifier
		if verify == nil {
			verify = refuseUnverifiedOCI
		}
		req := OCIVerifyRequest{Reference: ref, ManifestDigest: digest.String(), Layout: fromPath, LayoutRef: imgRef}
		if err := verify(ctx, req); err != nil {
			return "", fmt.Errorf("fetching %q: verifying signature of %s: %w", ref, digest, err)
		}
	}
	t, err := localTarget(where, imgRef)
	if err != nil {
		return "", fmt.Errorf("fetching %q: %w", ref, err)
	}
	return f.storeOCI(ctx, ref, t, img, digest)
}

// splitLayoutRef splits "PATH[:ref]"; a path holding ':' needs the ref.
func splitLayoutRef(s string) (string, string) {
	if i := strings.LastIndex(s, ":"); i > 0 && !strings.Contains(s[i:], "/") {
		if _, err := os.Stat(s); err != nil {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// localTarget names an image from a layout or archive: by its ref when it
// is a docker reference (or a tag), else by the file's base name.
func localTarget(where, imgRef string) (ociTarget, error) {
	if imgRef != "" && strings.ContainsAny(imgRef, "/.") {
		if r, err := name.ParseReference(imgRef); err == nil {
			return targetOf(r)
		}
	}
	base := strings.ToLower(strings.TrimSuffix(filepath.Base(where), filepath.Ext(where)))
	tag := imgRef
	if tag == "" {
		tag = "latest"
	}
	r, err := name.ParseReference("localhost/" + base + ":" + tag)
	if err != nil {
		return ociTarget{}, fmt.Errorf("naming the image of %s: %w", where, err)
	}
	return targetOf(r)
}

// layoutImage finds the image of an OCI layout: the one whose
// org.opencontainers.image.ref.name is imgRef, or the only one.
func layoutImage(dir, imgRef string) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
	}
	var found []v1.Descriptor
	for _, d := range im.Manifests {
		if imgRef == "" || d.Annotations["org.opencontainers.image.ref.name"] == imgRef {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("reading OCI layout %s: %w: %d images match %q", dir, ErrNoImageInLayout, len(found), imgRef)
	}
	d := found[0]
	if d.MediaType.IsIndex() {
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
		}
		return platformImage(child)
	}
	return idx.Image(d.Digest)
}

// platformImage picks the host's image of an index.
func platformImage(idx v1.ImageIndex) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	want := hostPlatform()
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.Satisfies(want) {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("%w: none for %s/%s", ErrNoImageInLayout, want.OS, want.Architecture)
}

// unpackLayout unpacks an OCI archive into a temp directory: regular files
// and directories only, each name local, written through an os.Root.
func unpackLayout(archive string) (dir string, retErr error) {
	file, err := os.Open(archive)
	if err != nil {
		return "", fmt.Errorf("opening OCI archive: %w", err)
	}
	defer file.Close()
	dir, err = os.MkdirTemp("", "rkt-oci-archive-")
	if err != nil {
		return "", err
	}
	defer func() {
		if retErr != nil {
			os.RemoveAll(dir)
		}
	}()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	tr := tar.NewReader(file)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir, nil
		}
		if err != nil {
			return "", fmt.Errorf("reading OCI archive %s: %w", archive, err)
		}
		n := filepath.Clean(h.Name)
		if !filepath.IsLocal(n) {
			return "", fmt.Errorf("reading OCI archive %s: entry %q leaves the archive", archive, h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(n, 0o755); err != nil {
				return "", err
			}
		case tar.TypeReg:
			if d := filepath.Dir(n); d != "." {
				if err := root.MkdirAll(d, 0o755); err != nil {
					return "", err
				}
			}
			w, err := root.OpenFile(n, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return "", fmt.Errorf("reading OCI archive %s: %w", archive, err)
			}
			_, err = io.Copy(w, tr)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return "", fmt.Errorf("reading OCI archive %s: %w", archive, err)
			}
		default:
			return "", fmt.Errorf("reading OCI archive %s: entry %q is not a file or directory", archive, h.Name)
		}
	}
}
