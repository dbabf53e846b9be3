package ocisig

import (
	"errors"
	"strings"
	"testing"
)

const testDigest = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

func TestPayloadCheck(t *testing.T) {
	claim := func(ref, digest string) string {
		return `{"critical":{"type":"atomic container signature","image":{"docker-manifest-digest":"` + digest +
			`"},"identity":{"docker-reference":"` + ref + `"}},"optional":{"creator":"test"}}`
	}
	pulledTag, _ := parseDockerRef("localhost:5000/team/app:1")
	pulledDigest, _ := parseDockerRef("localhost:5000/team/app@" + testDigest)
	hub, _ := parseDockerRef("busybox:1")
	for _, tc := range []struct {
		name, payload string
		pulled        dockerRef
		want          error
	}{
		{"exact", claim("localhost:5000/team/app:1", testDigest), pulledTag, nil},
		{"other tag", claim("localhost:5000/team/app:2", testDigest), pulledTag, ErrIdentityMismatch},
		{"no tag", claim("localhost:5000/team/app", testDigest), pulledTag, ErrIdentityMismatch},
		{"other repo", claim("localhost:5000/team/web:1", testDigest), pulledTag, ErrIdentityMismatch},
		{"other registry", claim("localhost:5001/team/app:1", testDigest), pulledTag, ErrIdentityMismatch},
		{"by digest, any tag", claim("localhost:5000/team/app:7", testDigest), pulledDigest, nil},
		{"by digest, other repo", claim("localhost:5000/team/web:1", testDigest), pulledDigest, ErrIdentityMismatch},
		{"other digest", claim("localhost:5000/team/app:1", "sha256:"+strings.Repeat("1", 64)), pulledTag, ErrDigestMismatch},
		{"docker hub spellings", claim("docker.io/library/busybox:1", testDigest), hub, nil},
		{"unknown critical field", strings.Replace(claim("localhost:5000/team/app:1", testDigest), `"type"`, `"extra":1,"type"`, 1), pulledTag, ErrBadPayload},
		{"wrong type", strings.Replace(claim("localhost:5000/team/app:1", testDigest), "atomic", "other", 1), pulledTag, ErrBadPayload},
		{"not json", "{", pulledTag, ErrBadPayload},
	} {
		p, err := parsePayload([]byte(tc.payload), simpleSigningType)
		if err == nil {
			err = p.check(tc.pulled, testDigest, false)
		}
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// FuzzPayload: a payload accepted for localhost:5000/team/app:1 binds
// exactly that digest and that repository.
func FuzzPayload(f *testing.F) {
	f.Add([]byte(`{"critical":{"type":"atomic container signature","image":{"docker-manifest-digest":"` + testDigest + `"},"identity":{"docker-reference":"localhost:5000/team/app:1"}},"optional":null}`))
	f.Add([]byte(`{"critical":{"type":"atomic container signature","image":{"docker-manifest-digest":"` + testDigest + `"},"identity":{"docker-reference":"LOCALHOST:5000/team/app:1"}}}`))
	pulled, _ := parseDockerRef("localhost:5000/team/app:1")
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parsePayload(data, simpleSigningType)
		if err != nil {
			return
		}
		if err := p.check(pulled, testDigest, false); err != nil {
			return
		}
		signed, err := parseDockerRef(p.Critical.Identity.DockerReference)
		if err != nil || p.Critical.Image.DockerManifestDigest != testDigest || signed.repo != pulled.repo || signed.tag != "1" {
			t.Fatalf("accepted %q", data)
		}
	})
}
