package ocisig

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// OCI layout annotations that name an image: the spec's reference name,
// and the kinds `cosign save` writes.
const (
	refNameAnnotation = "org.opencontainers.image.ref.name"
	cosignKind        = "kind"
	cosignKindImage   = "dev.cosignproject.cosign/image"
	cosignKindSigs    = "dev.cosignproject.cosign/sigs"
)

// readLayoutBlob reads blobs/<alg>/<hex> of an OCI layout, capped and
// checked against its digest.
func readLayoutBlob(layout fs.FS, d v1.Hash) ([]byte, error) {
	if d.Algorithm != "sha256" {
		return nil, fmt.Errorf("blob %s: only sha256 digests are read", d)
	}
	f, err := layout.Open(path.Join("blobs", d.Algorithm, d.Hex))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := readCapped(f)
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", d, err)
	}
	return data, checkDigest(data, d)
}

func layoutIndex(layout fs.FS) (*v1.IndexManifest, error) {
	f, err := layout.Open("index.json")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := readCapped(f)
	if err != nil {
		return nil, fmt.Errorf("reading index.json: %w", err)
	}
	return v1.ParseIndexManifest(bytes.NewReader(data))
}

// layoutSignatures finds the cosign signature manifest of digest in a
// layout: the manifest whose ref name is sha256-<hex>.sig, or the one
// `cosign save` marks as signatures. nil when there is none.
func layoutSignatures(layout fs.FS, digest string) (*v1.Manifest, error) {
	idx, err := layoutIndex(layout)
	if err != nil {
		return nil, fmt.Errorf("reading the layout's index: %w", err)
	}
	tag := cosignTag(digest)
	for _, d := range idx.Manifests {
		if d.Annotations[refNameAnnotation] != tag && d.Annotations[cosignKind] != cosignKindSigs {
			continue
		}
		data, err := readLayoutBlob(layout, d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading signature manifest %s: %w", d.Digest, err)
		}
		return v1.ParseManifest(bytes.NewReader(data))
	}
	return nil, nil
}

// LayoutImage finds the image of an OCI layout to verify: the manifest
// whose ref name is ref, or, when ref is "" or a full reference
// (registry/repository:tag) no manifest is named by, the one `cosign save`
// marks as the image, or else the only manifest that is not a cosign
// signature. It returns the manifest digest and the ref name annotation
// ("" if none).
func LayoutImage(layout fs.FS, ref string) (digest, refName string, err error) {
	idx, err := layoutIndex(layout)
	if err != nil {
		return "", "", fmt.Errorf("reading the layout's index: %w", err)
	}
	var cands []v1.Descriptor
	for _, d := range idx.Manifests {
		name := d.Annotations[refNameAnnotation]
		switch {
		case ref != "" && name == ref:
			return d.Digest.String(), name, nil
		case d.Annotations[cosignKind] == cosignKindImage:
			cands = append([]v1.Descriptor{d}, cands...)
		case d.Annotations[cosignKind] == cosignKindSigs || path.Ext(name) == ".sig":
		default:
			cands = append(cands, d)
		}
	}
	if ref != "" && !strings.Contains(ref, "/") {
		return "", "", fmt.Errorf("no image named %q in the layout", ref)
	}
	if len(cands) > 0 && cands[0].Annotations[cosignKind] == cosignKindImage {
		return cands[0].Digest.String(), cands[0].Annotations[refNameAnnotation], nil
	}
	if len(cands) != 1 {
		return "", "", fmt.Errorf("the layout holds %d images; name one", len(cands))
	}
	return cands[0].Digest.String(), cands[0].Annotations[refNameAnnotation], nil
}
