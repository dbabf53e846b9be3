package ocisig

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// cosignSignatureAnnotation holds a layer's base64 signature.
const cosignSignatureAnnotation = "dev.cosignproject.cosign/signature"

// cosignTag is the tag cosign stores the signatures of digest under.
func cosignTag(digest string) string {
	return strings.Replace(digest, ":", "-", 1) + ".sig"
}

// cosignSignatures reads the signature image from the registry, or from
// the layout, when there is one.
func (v *verifier) cosignSignatures(ctx context.Context) ([]found, string, error) {
	tag := cosignTag(v.req.ManifestDigest)
	var m *v1.Manifest
	var readBlob func(v1.Hash) ([]byte, error)
	var where string
	switch {
	case v.req.Repository.RepositoryStr() != "":
		ref := v.req.Repository.Tag(tag)
		where = "registry tag " + ref.String()
		opts := append([]remote.Option{remote.WithContext(ctx)}, v.req.RemoteOptions...)
		img, err := remote.Image(ref, opts...)
		var terr *transport.Error
		if errors.As(err, &terr) && (terr.StatusCode == http.StatusNotFound || hasCode(terr, transport.ManifestUnknownErrorCode)) {
			return nil, where, nil
		}
		if err != nil {
			return nil, "", fmt.Errorf("reading cosign signatures %s: %w", ref, err)
		}
		if m, err = img.Manifest(); err != nil {
			return nil, "", fmt.Errorf("reading cosign signatures in %s: %w", where, err)
		}
		readBlob = func(d v1.Hash) ([]byte, error) { return readLayer(img, d) }
	case v.layout != nil:
		where = "layout " + v.layoutName
		var err error
		m, err = layoutSignatures(v.layout, v.req.ManifestDigest)
		if err != nil || m == nil {
			return nil, where, err
		}
		readBlob = func(d v1.Hash) ([]byte, error) { return readLayoutBlob(v.layout, d) }
	default:
		return nil, "", nil
	}
	var out []found
	for i, l := range m.Layers {
		if i == MaxSignatures {
			break
		}
		src := fmt.Sprintf("%s layer %s", where, l.Digest)
		b64, ok := l.Annotations[cosignSignatureAnnotation]
		if !ok {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			v.refusals = append(v.refusals, fmt.Errorf("%s: signature annotation is not base64: %w", src, err))
			continue
		}
		payload, err := readBlob(l.Digest)
		if err != nil {
			return nil, "", fmt.Errorf("reading %s: %w", src, err)
		}
		out = append(out, found{source: src, payload: payload, sig: sig})
	}
	return out, where, nil
}

// readLayer reads a payload layer, checked against its digest.
func readLayer(img v1.Image, d v1.Hash) ([]byte, error) {
	l, err := img.LayerByDigest(d)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := readCapped(rc)
	if err != nil {
		return nil, err
	}
	return data, checkDigest(data, d)
}

func checkDigest(data []byte, d v1.Hash) error {
	if got := (v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256Sum(data))}); got != d {
		return fmt.Errorf("blob digest is %s, the manifest says %s", got, d)
	}
	return nil
}

// hasCode reports whether the registry's error carries code: some
// registries answer a missing tag with MANIFEST_UNKNOWN and another status.
func hasCode(e *transport.Error, code transport.ErrorCode) bool {
	for _, d := range e.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}
