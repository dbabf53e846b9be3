package ocisig

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Payload types.
const (
	simpleSigningType = "atomic container signature"
	cosignType        = "cosign container image signature"
)

// payload is the signed JSON of both formats. Unknown fields in
// "critical" are refused, as containers/image refuses them: a field the
// signer meant to bind must not be ignored.
type payload struct {
	Critical struct {
		Type  string `json:"type"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

func parsePayload(data []byte, wantType string) (*payload, error) {
	var raw struct {
		Critical json.RawMessage `json:"critical"`
		Optional json.RawMessage `json:"optional"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPayload, err)
	}
	var p payload
	dec := json.NewDecoder(bytes.NewReader(raw.Critical))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p.Critical); err != nil {
		return nil, fmt.Errorf("%w: critical: %v", ErrBadPayload, err)
	}
	if p.Critical.Type != wantType {
		return nil, fmt.Errorf("%w: type %q, want %q", ErrBadPayload, p.Critical.Type, wantType)
	}
	if p.Critical.Image.DockerManifestDigest == "" || p.Critical.Identity.DockerReference == "" {
		return nil, fmt.Errorf("%w: no docker-manifest-digest or docker-reference", ErrBadPayload)
	}
	return &p, nil
}

// check binds the payload to the image pulled: the digest must be the
// manifest's, and the reference must match (exact, or same repository
// when repoOnly or the pull was by digest).
func (p *payload) check(pulled dockerRef, manifestDigest string, repoOnly bool) error {
	if got := p.Critical.Image.DockerManifestDigest; got != manifestDigest {
		return fmt.Errorf("%w: signed %s, pulled %s", ErrDigestMismatch, got, manifestDigest)
	}
	signed, err := parseDockerRef(p.Critical.Identity.DockerReference)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrIdentityMismatch, err)
	}
	if signed.repo != pulled.repo {
		return fmt.Errorf("%w: signed for %s, pulled %s", ErrIdentityMismatch, signed, pulled)
	}
	if repoOnly || (pulled.tag == "" && pulled.digest != "") {
		return nil
	}
	if signed.digest != "" || signed.tag != pulled.tag {
		return fmt.Errorf("%w: signed for %s, pulled %s", ErrIdentityMismatch, signed, pulled)
	}
	return nil
}
