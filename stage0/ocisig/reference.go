package ocisig

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// dockerRef is a reference in containers/image's normal form: Docker Hub
// as "docker.io", its official images under "library/".
type dockerRef struct {
	repo   string // registry/path
	path   string // path without the registry
	tag    string // "" when none was written
	digest string // "" when none was written
}

func (r dockerRef) String() string {
	s := r.repo
	if r.tag != "" {
		s += ":" + r.tag
	}
	if r.digest != "" {
		s += "@" + r.digest
	}
	return s
}

// identity is the key of a registries.d docker entry for r.
func (r dockerRef) identity() string { return r.String() }

// parseDockerRef parses s as docker and containers/image do, keeping
// whether a tag or digest was written (go-containerregistry would add
// "latest").
func parseDockerRef(s string) (dockerRef, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return dockerRef{}, fmt.Errorf("parsing reference %q: %w", s, err)
	}
	repo := ref.Context()
	reg := repo.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	r := dockerRef{repo: reg + "/" + repo.RepositoryStr(), path: repo.RepositoryStr()}
	last := s[strings.LastIndex(s, "/")+1:]
	if d, ok := ref.(name.Digest); ok {
		r.digest = d.DigestStr()
		if before, _, _ := strings.Cut(last, "@"); strings.Contains(before, ":") {
			r.tag = before[strings.Index(before, ":")+1:]
		}
	} else if strings.Contains(last, ":") {
		r.tag = ref.Identifier()
	}
	return r, nil
}

// normalizeName returns the repository of a trust name in normal form:
// "busybox" and "index.docker.io/library/busybox" are
// "docker.io/library/busybox".
func normalizeName(s string) (string, error) {
	r, err := parseDockerRef(s)
	if err != nil {
		return "", err
	}
	if r.tag != "" || r.digest != "" {
		return "", fmt.Errorf("trust name %q has a tag or digest", s)
	}
	return r.repo, nil
}

// TrustName gives, for a docker reference ("registry/repository[:tag]
// [@digest]"), the trust name its signatures are checked for (the
// repository, Docker Hub spelled out) and the reference in normal form.
// A name without a registry and repository path gives no trust name.
func TrustName(ref string) (name, reference string, err error) {
	if !strings.Contains(ref, "/") {
		return "", "", fmt.Errorf("the image is named %q, not registry/repository:tag, so no trust name follows from it", ref)
	}
	r, err := parseDockerRef(ref)
	if err != nil {
		return "", "", err
	}
	return r.repo, r.String(), nil
}
