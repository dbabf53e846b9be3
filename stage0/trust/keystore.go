package trust

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/common/atomicfile"
)

// Keystore is the pair of config roots whose trustedkeys directories hold
// the trusted keys: SystemDir (read-only here, e.g. /usr/lib/rkt) and
// LocalDir (written by Add and Remove, e.g. /etc/rkt). Either may be "".
type Keystore struct{ SystemDir, LocalDir string }

// New returns the keystore over the config roots systemDir and localDir.
func New(systemDir, localDir string) *Keystore {
	return &Keystore{SystemDir: systemDir, LocalDir: localDir}
}

// Scopes of a key in KeyInfo.
const (
	ScopeSystem = "system"
	ScopeLocal  = "local"
)

const (
	trustedKeysDir = "trustedkeys"
	rootDir        = "root.d"
	prefixDir      = "prefix.d"
)

// KeyInfo describes one trusted key file that is in effect.
type KeyInfo struct {
	Prefix      string // "" = root
	Fingerprint string
	UserIDs     []string
	Created     time.Time
	Expires     *time.Time
	Path        string
	Scope       string // ScopeSystem or ScopeLocal
	// Weak, when not nil, says why signatures by the key are refused
	// whatever they sign (it wraps ErrWeakKey).
	Weak error
	// Kind is KindOpenPGP or KindPublicKey.
	Kind string
}

// NormalizePrefix returns the canonical form of a trust prefix: "" for the
// root, otherwise an app container name without trailing slashes, stored as
// the directory path prefix.d/<prefix>.
func NormalizePrefix(prefix string) (string, error) {
	p := strings.TrimRight(prefix, "/")
	if p == "" {
		if prefix != "" {
			return "", fmt.Errorf("%w %q: a prefix cannot be only slashes; use the root keyring instead", ErrInvalidPrefix, prefix)
		}
		return "", nil
	}
	if err := checkName(p); err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalidPrefix, prefix, err)
	}
	return p, nil
}

// checkName accepts an app container name whose path elements are all
// non-empty, so that it maps to one directory path and back. The first
// element may end in a port (":5000"), as the registry of an OCI image
// name does; the directory is then named with the colon.
func checkName(s string) error {
	acName := s
	if host, rest, _ := strings.Cut(s, "/"); strings.Contains(host, ":") {
		h, port, _ := strings.Cut(host, ":")
		if h == "" || port == "" || strings.Trim(port, "0123456789") != "" || len(port) > 5 {
			return fmt.Errorf("%q is not a host name with a port", host)
		}
		acName = h
		if rest != "" || strings.HasSuffix(s, "/") {
			acName = h + "/" + rest
		}
	}
	if _, err := types.NewACIdentifier(acName); err != nil {
		return err
	}
	for _, el := range strings.Split(s, "/") {
		if el == "" || el == "." || el == ".." {
			return fmt.Errorf("path element %q not allowed", el)
		}
	}
	return nil
}

// NormalizeFingerprint returns fpr as lowercase hex, without spaces, checked
// to have the length of a v4 or v5/v6 fingerprint.
func NormalizeFingerprint(fpr string) (string, error) {
	f := strings.ToLower(strings.ReplaceAll(fpr, " ", ""))
	if len(f) != 40 && len(f) != 64 {
		return "", fmt.Errorf("%w %q: want 40 or 64 hex digits", ErrInvalidFingerprint, fpr)
	}
	for _, c := range f {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", fmt.Errorf("%w %q: want 40 or 64 hex digits", ErrInvalidFingerprint, fpr)
		}
	}
	return f, nil
}

// prefixPath is the directory of prefix (normalized) under root.
func prefixPath(root, prefix string) string {
	if prefix == "" {
		return filepath.Join(root, trustedKeysDir, rootDir)
	}
	return filepath.Join(root, trustedKeysDir, prefixDir, filepath.FromSlash(prefix))
}

// Add stores k in the local dir as trusted for prefix ("" = root.d), as
// <local>/trustedkeys/{root.d,prefix.d/<prefix>}/<fingerprint>, mode 0644.
// A key already there with the same fingerprint is a quiet success
// (already=true). A zero-byte mask at that place is replaced by the key.
func (ks *Keystore) Add(prefix string, k *Key) (path string, already bool, err error) {
	p, err := NormalizePrefix(prefix)
	if err != nil {
		return "", false, fmt.Errorf("adding key: %w", err)
	}
	if ks.LocalDir == "" {
		return "", false, fmt.Errorf("adding key %s: %w", k.Fingerprint, ErrNoLocalDir)
	}
	fpr, err := NormalizeFingerprint(k.Fingerprint)
	if err != nil {
		return "", false, fmt.Errorf("adding key: %w", err)
	}
	dir := prefixPath(ks.LocalDir, p)
	path = filepath.Join(dir, fpr)
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		if _, err := readKeyFile(path, fpr); err == nil {
			return path, true, nil
		}
		// A file by that name that is not this key: replace it.
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("adding key %s: %w", fpr, err)
	}
	data, err := k.storedForm()
	if err != nil {
		return "", false, fmt.Errorf("adding key %s: %w", fpr, err)
	}
	if err := mkdirAll(dir); err != nil {
		return "", false, fmt.Errorf("adding key %s: %w", fpr, err)
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return "", false, fmt.Errorf("adding key %s: %w", fpr, err)
	}
	return path, false, nil
}

// mkdirAll creates dir and its missing parents with mode 0755 whatever the
// umask, so that unprivileged readers (the rkt group) can read the keys.
// Directories that exist keep their mode.
func mkdirAll(dir string) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Chmod(missing[i], 0o755); err != nil {
			return err
		}
	}
	return nil
}

// Remove stops trusting the key fpr for prefix. A local key file is
// deleted; a system key is masked by a zero-byte file of the same name in
// the local dir. When both exist, both steps happen. It returns the local
// path it deleted or wrote.
func (ks *Keystore) Remove(prefix, fingerprint string) (path string, err error) {
	p, err := NormalizePrefix(prefix)
	if err != nil {
		return "", fmt.Errorf("removing key: %w", err)
	}
	fpr, err := NormalizeFingerprint(fingerprint)
	if err != nil {
		return "", fmt.Errorf("removing key: %w", err)
	}
	if ks.LocalDir == "" {
		return "", fmt.Errorf("removing key %s: %w", fpr, ErrNoLocalDir)
	}
	localPath := filepath.Join(prefixPath(ks.LocalDir, p), fpr)
	localSize := int64(-1)
	if fi, err := os.Stat(localPath); err == nil {
		localSize = fi.Size()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("removing key %s: %w", fpr, err)
	}
	systemExists := false
	if ks.SystemDir != "" {
		if fi, err := os.Stat(filepath.Join(prefixPath(ks.SystemDir, p), fpr)); err == nil && fi.Mode().IsRegular() {
			systemExists = true
		}
	}
	switch {
	case systemExists && localSize == 0:
		return "", fmt.Errorf("removing key %s for %s: %w (already masked at %s)", fpr, scopeName(p), ErrKeyNotFound, localPath)
	case systemExists:
		if err := mkdirAll(filepath.Dir(localPath)); err != nil {
			return "", fmt.Errorf("removing key %s: masking system key: %w", fpr, err)
		}
		if err := atomicfile.WriteFile(localPath, nil, 0o644); err != nil {
			return "", fmt.Errorf("removing key %s: masking system key: %w", fpr, err)
		}
		return localPath, nil
	case localSize >= 0:
		if err := os.Remove(localPath); err != nil {
			return "", fmt.Errorf("removing key %s: %w", fpr, err)
		}
		if err := atomicfile.SyncDir(filepath.Dir(localPath)); err != nil {
			return "", fmt.Errorf("removing key %s: %w", fpr, err)
		}
		return localPath, nil
	}
	return "", fmt.Errorf("removing key %s for %s: %w", fpr, scopeName(p), ErrKeyNotFound)
}

func scopeName(prefix string) string {
	if prefix == "" {
		return "root"
	}
	return fmt.Sprintf("prefix %q", prefix)
}

// trustedKey is one key file in effect for some prefix.
type trustedKey struct {
	key    *Key
	prefix string
	path   string
	scope  string
}

// MaxKeySize caps a key file, and a key given to rkt trust: a public key
// with many user IDs and certifications stays far below it.
const MaxKeySize = 1 << 20

// keysIn loads the keys in effect in the directory of prefix: the system
// dir's files not masked by a zero-byte local file of the same name, then
// the local dir's non-empty files. Subdirectories (longer prefixes) and temp
// files are skipped. A file that is not one public key named by its
// fingerprint and at most MaxKeySize bytes is returned in bad, not loaded;
// err is for directories that cannot be read.
func (ks *Keystore) keysIn(prefix string) (keys []trustedKey, bad []*KeyFileError, err error) {
	for _, scope := range []struct{ root, name string }{{ks.SystemDir, ScopeSystem}, {ks.LocalDir, ScopeLocal}} {
		if scope.root == "" {
			continue
		}
		dir := prefixPath(scope.root, prefix)
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading trusted keys in %s: %w", dir, err)
		}
		for _, ent := range entries {
			name := ent.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			path := filepath.Join(dir, name)
			fail := func(err error) {
				bad = append(bad, &KeyFileError{Path: path, Prefix: prefix, Scope: scope.name, Name: name, Err: err})
			}
			fi, err := os.Stat(path)
			if err != nil {
				fail(err)
				continue
			}
			if fi.IsDir() {
				continue
			}
			if fi.Size() == 0 {
				continue // a mask (local) or an empty file: nothing to trust
			}
			if scope.name == ScopeSystem && ks.LocalDir != "" && masked(filepath.Join(prefixPath(ks.LocalDir, prefix), name)) {
				continue
			}
			k, err := readKeyFile(path, name)
			if err != nil {
				fail(err)
				continue
			}
			keys = append(keys, trustedKey{key: k, prefix: prefix, path: path, scope: scope.name})
		}
	}
	return keys, bad, nil
}

// readKeyFile reads the key file at path, named name: at most MaxKeySize
// bytes holding one public key whose fingerprint is name.
func readKeyFile(path, name string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxKeySize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxKeySize {
		return nil, fmt.Errorf("%w (more than %d bytes)", ErrKeyFileTooLarge, MaxKeySize)
	}
	k, err := readKey(data)
	if err != nil {
		return nil, err
	}
	if k.Fingerprint != name {
		return nil, fmt.Errorf("%w: it holds key %s", ErrKeyFileName, k.Fingerprint)
	}
	return k, nil
}

func masked(localPath string) bool {
	fi, err := os.Lstat(localPath)
	return err == nil && fi.Mode().IsRegular() && fi.Size() == 0
}

// prefixesFor lists the prefixes whose keys form the keyring of name: the
// root, then each leading run of whole path elements of name, shortest
// first.
func prefixesFor(name string) []string {
	ps := []string{""}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			ps = append(ps, name[:i])
		}
	}
	return append(ps, name)
}

// keyring loads the keys trusted for image name.
func (ks *Keystore) keyring(name string) (keys []trustedKey, searched []string, err error) {
	if err := checkName(name); err != nil {
		return nil, nil, fmt.Errorf("%w %q: %v", ErrInvalidName, name, err)
	}
	searched = prefixesFor(name)
	var bad []*KeyFileError
	for _, p := range searched {
		in, b, err := ks.keysIn(p)
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, in...)
		bad = append(bad, b...)
	}
	// Fail closed: a file that cannot be read might be the key that
	// should have refused (or accepted) this image.
	if len(bad) > 0 {
		return nil, nil, badFiles(bad)
	}
	return keys, searched, nil
}

// prefixes lists the root ("") and every prefix with a directory in the
// system or local dir, sorted.
func (ks *Keystore) prefixes() ([]string, error) {
	prefixes := map[string]bool{"": true}
	for _, root := range []string{ks.SystemDir, ks.LocalDir} {
		if root == "" {
			continue
		}
		base := filepath.Join(root, trustedKeysDir, prefixDir)
		err := filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && path == base {
					return filepath.SkipDir
				}
				return err
			}
			if !d.IsDir() || path == base {
				return nil
			}
			rel, err := filepath.Rel(base, path)
			if err != nil {
				return err
			}
			prefixes[filepath.ToSlash(rel)] = true
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("listing trusted keys in %s: %w", base, err)
		}
	}
	out := make([]string, 0, len(prefixes))
	for p := range prefixes {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// List returns every key in effect, system and local, sorted by prefix,
// then scope (system first), then fingerprint. Masked system keys and masks
// are left out. Files that are not good key files do not stop the listing:
// List returns every key it could read and then a *BadKeyFilesError naming
// the others.
func (ks *Keystore) List() ([]KeyInfo, error) {
	prefixes, err := ks.prefixes()
	if err != nil {
		return nil, err
	}
	var out []KeyInfo
	var bad []*KeyFileError
	for _, p := range prefixes {
		keys, b, err := ks.keysIn(p)
		if err != nil {
			return nil, fmt.Errorf("listing trusted keys: %w", err)
		}
		bad = append(bad, b...)
		for _, tk := range keys {
			out = append(out, KeyInfo{
				Prefix:      tk.prefix,
				Fingerprint: tk.key.Fingerprint,
				UserIDs:     tk.key.UserIDs,
				Created:     tk.key.Created,
				Expires:     tk.key.Expires,
				Path:        tk.path,
				Scope:       tk.scope,
				Weak:        tk.key.strength(),
				Kind:        tk.key.Kind(),
			})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Prefix != b.Prefix {
			return a.Prefix < b.Prefix
		}
		if a.Scope != b.Scope {
			return a.Scope == ScopeSystem
		}
		if a.Fingerprint != b.Fingerprint {
			return a.Fingerprint < b.Fingerprint
		}
		return a.Path < b.Path
	})
	if len(bad) > 0 {
		return out, badFiles(bad)
	}
	return out, nil
}
