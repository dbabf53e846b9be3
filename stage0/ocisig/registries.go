package ocisig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultRegistriesDir is where skopeo and podman read the registries.d
// files that name lookaside stores.
const DefaultRegistriesDir = "/etc/containers/registries.d"

// nsConfig is one entry of a registries.d file, as far as reading
// signatures goes: the *-staging keys are where signatures are written, and
// use-sigstore-attachments does not matter since cosign's tag is always
// looked up.
type nsConfig struct {
	Lookaside string `yaml:"lookaside"`
	SigStore  string `yaml:"sigstore"`
}

// readURL is the lookaside to read signatures from.
func (c nsConfig) readURL() (string, error) {
	if c.Lookaside != "" && c.SigStore != "" {
		return "", errors.New(`both "lookaside" and its older name "sigstore" are set`)
	}
	if c.Lookaside != "" {
		return c.Lookaside, nil
	}
	return c.SigStore, nil
}

type registriesFile struct {
	DefaultDocker *nsConfig           `yaml:"default-docker"`
	Docker        map[string]nsConfig `yaml:"docker"`
}

// Registries is the merged content of registries.d directories.
type Registries struct {
	defaultDocker *nsConfig
	docker        map[string]nsConfig
	where         map[string]string // namespace ("" = default-docker) -> file
}

// LoadRegistries reads every *.yaml file in dirs (a missing dir is empty),
// as containers/image does: a namespace, or default-docker, set in two
// files is an error.
func LoadRegistries(dirs ...string) (*Registries, error) {
	r := &Registries{docker: map[string]nsConfig{}, where: map[string]string{}}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading registries.d %s: %w", dir, err)
		}
		var names []string
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		for _, n := range names {
			path := filepath.Join(dir, n)
			if err := r.add(path); err != nil {
				return nil, fmt.Errorf("reading registries.d file %s: %w", path, err)
			}
		}
	}
	return r, nil
}

func (r *Registries) add(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var f registriesFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return err
	}
	if f.DefaultDocker != nil {
		if prev, ok := r.where[""]; ok {
			return fmt.Errorf("default-docker is already set in %s", prev)
		}
		r.defaultDocker, r.where[""] = f.DefaultDocker, path
	}
	for ns, c := range f.Docker {
		if prev, ok := r.where[ns]; ok && ns != "" {
			return fmt.Errorf("docker namespace %q is already set in %s", ns, prev)
		}
		r.docker[ns], r.where[ns] = c, path
	}
	return nil
}

// lookaside finds the lookaside base URL for a reference: that of the
// docker entry for its full identity (repository:tag or
// repository@digest), else for the repository and each parent namespace,
// longest first, else default-docker; an entry that names no lookaside is
// passed over, as containers/image does. "" when none names one.
func (r *Registries) lookaside(identity, repo string) (string, error) {
	keys := []string{identity}
	for ns := repo; ns != ""; {
		keys = append(keys, ns)
		i := strings.LastIndex(ns, "/")
		if i < 0 {
			break
		}
		ns = ns[:i]
	}
	try := func(c nsConfig, ns string) (string, error) {
		u, err := c.readURL()
		if err != nil {
			label := fmt.Sprintf("docker entry %q", ns)
			if ns == "" {
				label = "default-docker"
			}
			return "", fmt.Errorf("registries.d %s in %s: %w", label, r.where[ns], err)
		}
		return u, nil
	}
	for _, k := range keys {
		if c, ok := r.docker[k]; ok {
			if u, err := try(c, k); err != nil || u != "" {
				return u, err
			}
		}
	}
	if r.defaultDocker != nil {
		return try(*r.defaultDocker, "")
	}
	return "", nil
}
