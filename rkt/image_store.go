package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rkt/rkt/stage0/config"
	"github.com/rkt/rkt/stage0/trust"
	"github.com/rkt/rkt/store"
	"github.com/spf13/cobra"
)

// openStore opens the store of the data dir (--dir, else paths.d data).
func (g *globalFlags) openStore(cmd *cobra.Command) (*store.Store, error) {
	dir, err := g.dataDir(cmd)
	if err != nil {
		return nil, err
	}
	conf, err := g.config()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the store in %s: %w", dir, err)
	}
	st.SetLimits(fetchLimits(conf))
	return st, nil
}

// fetchLimits are the store's default ingest limits with fetch.d's
// settings applied.
func fetchLimits(c *config.Config) store.Limits {
	l := store.DefaultLimits
	if v := c.Fetch.MaxImageSize; v != nil {
		l.MaxImageSize = *v
	}
	if v := c.Fetch.MaxFiles; v != nil {
		l.MaxFiles = int(*v)
	}
	if v := c.Fetch.MinFreeSpace; v != nil {
		// A configured floor holds as given, whatever the filesystem's size.
		l.MinFreeBytes, l.MinFreeCapPercent = *v, 0
	}
	if v := c.Fetch.MinFreePercent; v != nil {
		l.MinFreePercent = int(*v)
	}
	return l
}

// keystore is the keystore of the system and local configuration. (The
// user configuration holds no keys, as in rkt.)
func (g *globalFlags) keystore() *trust.Keystore {
	return trust.New(g.systemConfig, g.localConfig)
}

// listImages reads the index rows only: no manifests, no trees.
func (g *globalFlags) listImages(cmd *cobra.Command) ([]imageRow, error) {
	st, err := g.openStore(cmd)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	imgs, err := st.Images()
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	rows := make([]imageRow, len(imgs))
	for i, img := range imgs {
		name := img.Name
		if v, ok := img.Labels["version"]; ok && v != "" {
			name += ":" + v
		}
		rows[i] = imageRow{
			ID:         img.Key,
			Name:       name,
			ImportTime: img.ImportTime,
			LastUsed:   img.LastUsed,
			Size:       img.Size + img.TreeStoreSize,
			Latest:     img.Latest,
			Layer:      img.Layer,
			Reference:  img.RegistryReference,
			Digest:     img.ManifestDigest,
		}
	}
	return rows, nil
}

// resolveImage finds the image an argument names: an image ID (short ones
// allowed) or an image name with optional :version and ,label=value.
func resolveImage(st *store.Store, arg string) (string, error) {
	if strings.HasPrefix(arg, "sha512-") {
		return st.ResolveKey(arg)
	}
	name, labels, err := parseImageName(arg)
	if err != nil {
		return "", err
	}
	return st.FindByName(name, labels)
}

var errEmptyName = errors.New("empty image name")

// parseImageName reads `name[:version][,label=value...]`.
func parseImageName(s string) (string, map[string]string, error) {
	parts := strings.Split(s, ",")
	name := parts[0]
	labels := map[string]string{}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		labels["version"] = name[i+1:]
		name = name[:i]
	}
	if name == "" {
		return "", nil, fmt.Errorf("parsing image %q: %w", s, errEmptyName)
	}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return "", nil, fmt.Errorf("parsing image %q: label %q is not name=value", s, p)
		}
		labels[k] = v
	}
	return name, labels, nil
}
