// Package config reads rkt's stage0 configuration: the auth.d, paths.d and
// stage1.d directories of the system, local and user configuration roots.
//
// Layout (each file is JSON with "rktKind" and "rktVersion": "v1"):
//
//	<root>/auth.d/*.json     rktKind "auth" (per domain) or "dockerAuth" (per registry)
//	<root>/paths.d/*.json    rktKind "paths": "data", "stage1-images"
//	<root>/stage1.d/*.json   rktKind "stage1": "name"+"version" together, "location"
//	<root>/fetch.d/*.json    rktKind "fetch": "maxImageSize", "maxFiles",
//	                         "minFreeSpace", "minFreePercent" (limits of an ingest)
//
// Invariants:
//   - Roots are read in the order given to Load, lowest precedence first
//     (system, local, user); a later root overrides an earlier one per
//     domain, per registry and per field, never as a whole.
//   - Within one root, a domain, registry or field set by two files is an
//     error, not a silent choice: the order of files on disk must not matter.
//   - Only *.json files directly inside a kind directory are read; other
//     files and subdirectories are ignored. A missing root or kind
//     directory is the same as an empty one.
//   - A file whose rktKind does not belong to its directory, or whose
//     rktVersion is not "v1", is an error naming the file.
package config

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Auth types of auth.d entries.
const (
	AuthBasic = "basic"
	AuthOAuth = "oauth"
	AuthAWS   = "aws"
)

// Auth is the credential configured for one domain.
type Auth struct {
	// Type is AuthBasic, AuthOAuth or AuthAWS.
	Type string
	// User and Password are set for AuthBasic.
	User, Password string
	// Token is set for AuthOAuth.
	Token string
	// AccessKeyID, SecretAccessKey and Region are set for AuthAWS.
	AccessKeyID, SecretAccessKey, Region string
	// Source is the file the entry came from.
	Source string
}

// Header is the Authorization header value Auth sends, and false for a type
// that signs requests instead of sending a fixed header (AuthAWS).
func (a Auth) Header() (string, bool) {
	switch a.Type {
	case AuthBasic:
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(a.User+":"+a.Password)), true
	case AuthOAuth:
		return "Bearer " + a.Token, true
	}
	return "", false
}

// DockerAuth is the credential configured for one docker registry.
type DockerAuth struct {
	User, Password string
	Source         string
}

// Paths are the configurable directories.
type Paths struct {
	// DataDir is the data directory ("data"); the --dir flag overrides it.
	DataDir string
	// Stage1ImagesDir is where default stage1 images are looked up
	// ("stage1-images").
	Stage1ImagesDir string
}

// Stage1 names the default stage1 image.
type Stage1 struct {
	// Name and Version are set together or not at all.
	Name, Version string
	// Location is a file path or URL to fetch the image from.
	Location string
}

// Fetch holds the limits of an image ingest that the configuration sets;
// nil fields are unset (the store's defaults apply), 0 disables a limit.
type Fetch struct {
	// MaxImageSize bounds the uncompressed image and the sum of its files'
	// sizes, in bytes ("maxImageSize": a number of bytes or a string such
	// as "16GiB").
	MaxImageSize *int64
	// MaxFiles bounds the entries of the image's tar ("maxFiles").
	MaxFiles *int64
	// MinFreeSpace is the free space, in bytes, an ingest must leave on
	// the data dir's filesystem ("minFreeSpace", like maxImageSize).
	MinFreeSpace *int64
	// MinFreePercent is the same floor as a percentage of the filesystem
	// ("minFreePercent"); the larger of the two applies.
	MinFreePercent *int64
}

// Config is the merged configuration.
type Config struct {
	// Auth holds the credential per domain (host name, optionally with a
	// port).
	Auth map[string]Auth
	// DockerAuth holds the credential per registry.
	DockerAuth map[string]DockerAuth
	Paths      Paths
	Stage1     Stage1
	Fetch      Fetch
}

// AuthHeaders returns, per domain, the headers to add to requests going to
// that domain. Domains whose auth type does not use a fixed header are left
// out.
func (c *Config) AuthHeaders() map[string]http.Header {
	out := make(map[string]http.Header, len(c.Auth))
	for domain, a := range c.Auth {
		v, ok := a.Header()
		if !ok {
			continue
		}
		h := make(http.Header)
		h.Set("Authorization", v)
		out[domain] = h
	}
	return out
}

// kinds maps each kind directory to the rktKinds allowed in it.
var kinds = map[string][]string{
	"auth.d":   {"auth", "dockerAuth"},
	"paths.d":  {"paths"},
	"stage1.d": {"stage1"},
	"fetch.d":  {"fetch"},
}

var kindDirs = []string{"auth.d", "paths.d", "stage1.d", "fetch.d"}

// Load reads the configuration roots in increasing precedence (typically
// system, local, user) and merges them. Empty roots are skipped.
func Load(roots ...string) (*Config, error) {
	c := &Config{Auth: map[string]Auth{}, DockerAuth: map[string]DockerAuth{}}
	for _, root := range roots {
		if root == "" {
			continue
		}
		layer := newLayer()
		for _, kd := range kindDirs {
			if err := layer.readDir(filepath.Join(root, kd), kinds[kd]); err != nil {
				return nil, err
			}
		}
		layer.mergeInto(c)
	}
	return c, nil
}

// layer is what one configuration root sets, with the file that set each
// key, so that a key set twice within one root is caught.
type layer struct {
	auth       map[string]Auth
	dockerAuth map[string]DockerAuth
	setBy      map[string]string // "paths.data" etc. -> file
	paths      Paths
	stage1     Stage1
	fetch      Fetch
}

func newLayer() *layer {
	return &layer{auth: map[string]Auth{}, dockerAuth: map[string]DockerAuth{}, setBy: map[string]string{}}
}

func (l *layer) readDir(dir string, allowed []string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading configuration directory %s: %w", dir, err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		info, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("reading configuration file %s: %w", path, err)
		}
		if !info.Mode().IsRegular() {
			continue
		}
		if err := l.readFile(path, allowed); err != nil {
			return fmt.Errorf("reading configuration file %s: %w", path, err)
		}
	}
	return nil
}

type header struct {
	RktKind    string `json:"rktKind"`
	RktVersion string `json:"rktVersion"`
}

func (l *layer) readFile(path string, allowed []string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var h header
	if err := json.Unmarshal(data, &h); err != nil {
		return fmt.Errorf("parsing JSON: %w", err)
	}
	if h.RktKind == "" {
		return ErrNoKind
	}
	ok := false
	for _, k := range allowed {
		ok = ok || k == h.RktKind
	}
	if !ok {
		return &KindError{Kind: h.RktKind, Allowed: allowed}
	}
	if h.RktVersion != "v1" {
		return &VersionError{Kind: h.RktKind, Version: h.RktVersion}
	}
	switch h.RktKind {
	case "auth":
		return l.parseAuth(path, data)
	case "dockerAuth":
		return l.parseDockerAuth(path, data)
	case "paths":
		return l.parsePaths(path, data)
	case "fetch":
		return l.parseFetch(path, data)
	default: // "stage1"
		return l.parseStage1(path, data)
	}
}

func strictUnmarshal(data []byte, v any) error {
	d := json.NewDecoder(strings.NewReader(string(data)))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("parsing JSON: %w", err)
	}
	return nil
}

type authV1 struct {
	RktKind     string          `json:"rktKind"`
	RktVersion  string          `json:"rktVersion"`
	Domains     []string        `json:"domains"`
	Type        string          `json:"type"`
	Credentials json.RawMessage `json:"credentials"`
}

type basicV1 struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

type oauthV1 struct {
	Token string `json:"token"`
}

type awsV1 struct {
	AccessKeyID     string `json:"accessKeyID"`
	SecretAccessKey string `json:"secretAccessKey"`
	AWSRegion       string `json:"awsRegion"`
}

func (l *layer) parseAuth(path string, data []byte) error {
	var v authV1
	if err := strictUnmarshal(data, &v); err != nil {
		return err
	}
	if len(v.Domains) == 0 {
		return fmt.Errorf("%w: domains", ErrMissingField)
	}
	if len(v.Credentials) == 0 {
		return fmt.Errorf("%w: credentials", ErrMissingField)
	}
	a := Auth{Type: v.Type, Source: path}
	switch v.Type {
	case AuthBasic:
		var b basicV1
		if err := strictUnmarshal(v.Credentials, &b); err != nil {
			return fmt.Errorf("parsing basic credentials: %w", err)
		}
		if b.User == "" || b.Password == "" {
			return fmt.Errorf("%w: credentials user and password", ErrMissingField)
		}
		a.User, a.Password = b.User, b.Password
	case AuthOAuth:
		var o oauthV1
		if err := strictUnmarshal(v.Credentials, &o); err != nil {
			return fmt.Errorf("parsing oauth credentials: %w", err)
		}
		if o.Token == "" {
			return fmt.Errorf("%w: credentials token", ErrMissingField)
		}
		a.Token = o.Token
	case AuthAWS:
		var w awsV1
		if err := strictUnmarshal(v.Credentials, &w); err != nil {
			return fmt.Errorf("parsing aws credentials: %w", err)
		}
		if w.AccessKeyID == "" || w.SecretAccessKey == "" {
			return fmt.Errorf("%w: credentials accessKeyID and secretAccessKey", ErrMissingField)
		}
		a.AccessKeyID, a.SecretAccessKey, a.Region = w.AccessKeyID, w.SecretAccessKey, w.AWSRegion
	default:
		return &AuthTypeError{Type: v.Type}
	}
	for _, d := range v.Domains {
		if d == "" {
			return fmt.Errorf("%w: empty domain", ErrMissingField)
		}
		if prev, ok := l.auth[d]; ok {
			return &DuplicateError{Key: "auth for domain " + d, First: prev.Source}
		}
		l.auth[d] = a
	}
	return nil
}

type dockerAuthV1 struct {
	RktKind     string   `json:"rktKind"`
	RktVersion  string   `json:"rktVersion"`
	Registries  []string `json:"registries"`
	Credentials basicV1  `json:"credentials"`
}

func (l *layer) parseDockerAuth(path string, data []byte) error {
	var v dockerAuthV1
	if err := strictUnmarshal(data, &v); err != nil {
		return err
	}
	if len(v.Registries) == 0 {
		return fmt.Errorf("%w: registries", ErrMissingField)
	}
	if v.Credentials.User == "" || v.Credentials.Password == "" {
		return fmt.Errorf("%w: credentials user and password", ErrMissingField)
	}
	for _, r := range v.Registries {
		if r == "" {
			return fmt.Errorf("%w: empty registry", ErrMissingField)
		}
		if prev, ok := l.dockerAuth[r]; ok {
			return &DuplicateError{Key: "docker auth for registry " + r, First: prev.Source}
		}
		l.dockerAuth[r] = DockerAuth{User: v.Credentials.User, Password: v.Credentials.Password, Source: path}
	}
	return nil
}

type pathsV1 struct {
	RktKind      string `json:"rktKind"`
	RktVersion   string `json:"rktVersion"`
	Data         string `json:"data"`
	Stage1Images string `json:"stage1-images"`
}

func (l *layer) set(key, path string) error {
	if prev, ok := l.setBy[key]; ok {
		return &DuplicateError{Key: key, First: prev}
	}
	l.setBy[key] = path
	return nil
}

func (l *layer) parsePaths(path string, data []byte) error {
	var v pathsV1
	if err := strictUnmarshal(data, &v); err != nil {
		return err
	}
	if v.Data != "" {
		if err := l.set("paths data", path); err != nil {
			return err
		}
		l.paths.DataDir = v.Data
	}
	if v.Stage1Images != "" {
		if err := l.set("paths stage1-images", path); err != nil {
			return err
		}
		l.paths.Stage1ImagesDir = v.Stage1Images
	}
	return nil
}

type stage1V1 struct {
	RktKind    string `json:"rktKind"`
	RktVersion string `json:"rktVersion"`
	Name       string `json:"name"`
	Version    string `json:"version"`
	Location   string `json:"location"`
}

func (l *layer) parseStage1(path string, data []byte) error {
	var v stage1V1
	if err := strictUnmarshal(data, &v); err != nil {
		return err
	}
	if (v.Name == "") != (v.Version == "") {
		return ErrStage1NameVersion
	}
	if v.Name != "" {
		if err := l.set("stage1 name and version", path); err != nil {
			return err
		}
		l.stage1.Name, l.stage1.Version = v.Name, v.Version
	}
	if v.Location != "" {
		if err := l.set("stage1 location", path); err != nil {
			return err
		}
		l.stage1.Location = v.Location
	}
	return nil
}

func (l *layer) mergeInto(c *Config) {
	for d, a := range l.auth {
		c.Auth[d] = a
	}
	for r, a := range l.dockerAuth {
		c.DockerAuth[r] = a
	}
	if l.paths.DataDir != "" {
		c.Paths.DataDir = l.paths.DataDir
	}
	if l.paths.Stage1ImagesDir != "" {
		c.Paths.Stage1ImagesDir = l.paths.Stage1ImagesDir
	}
	if l.stage1.Name != "" {
		c.Stage1.Name, c.Stage1.Version = l.stage1.Name, l.stage1.Version
	}
	if l.stage1.Location != "" {
		c.Stage1.Location = l.stage1.Location
	}
	for _, f := range []struct{ dst, src **int64 }{
		{&c.Fetch.MaxImageSize, &l.fetch.MaxImageSize},
		{&c.Fetch.MaxFiles, &l.fetch.MaxFiles},
		{&c.Fetch.MinFreeSpace, &l.fetch.MinFreeSpace},
		{&c.Fetch.MinFreePercent, &l.fetch.MinFreePercent},
	} {
		if *f.src != nil {
			*f.dst = *f.src
		}
	}
}

// MarshalJSON renders the merged configuration as `rkt config` prints it,
// as rkt 1.30 printed it: {"stage0": [entries]}, one entry per domain, per
// registry, one for paths and one for stage1, each in its v1 file format,
// credentials included (whoever can run this can read the files they come
// from), and paths as configured ("" where no paths.d file sets one);
// between paths and stage1, one for fetch (the limits set, in bytes) only
// when a fetch.d file sets one, since rkt 1.30 had no such kind. The order
// is stable: auth by domain, docker auth by registry, paths, fetch, stage1.
func (c *Config) MarshalJSON() ([]byte, error) {
	entries := []any{}
	for _, d := range sortedKeys(c.Auth) {
		a := c.Auth[d]
		var cred any
		switch a.Type {
		case AuthBasic:
			cred = basicV1{User: a.User, Password: a.Password}
		case AuthOAuth:
			cred = oauthV1{Token: a.Token}
		case AuthAWS:
			cred = awsV1{AccessKeyID: a.AccessKeyID, SecretAccessKey: a.SecretAccessKey, AWSRegion: a.Region}
		}
		entries = append(entries, struct {
			RktVersion  string   `json:"rktVersion"`
			RktKind     string   `json:"rktKind"`
			Domains     []string `json:"domains"`
			Type        string   `json:"type"`
			Credentials any      `json:"credentials"`
		}{"v1", "auth", []string{d}, a.Type, cred})
	}
	for _, r := range sortedKeys(c.DockerAuth) {
		a := c.DockerAuth[r]
		entries = append(entries, struct {
			RktVersion  string   `json:"rktVersion"`
			RktKind     string   `json:"rktKind"`
			Registries  []string `json:"registries"`
			Credentials basicV1  `json:"credentials"`
		}{"v1", "dockerAuth", []string{r}, basicV1{User: a.User, Password: a.Password}})
	}
	entries = append(entries, struct {
		RktVersion   string `json:"rktVersion"`
		RktKind      string `json:"rktKind"`
		Data         string `json:"data"`
		Stage1Images string `json:"stage1-images"`
	}{"v1", "paths", c.Paths.DataDir, c.Paths.Stage1ImagesDir})
	if c.Fetch != (Fetch{}) {
		entries = append(entries, struct {
			RktVersion     string `json:"rktVersion"`
			RktKind        string `json:"rktKind"`
			MaxImageSize   *int64 `json:"maxImageSize,omitempty"`
			MaxFiles       *int64 `json:"maxFiles,omitempty"`
			MinFreeSpace   *int64 `json:"minFreeSpace,omitempty"`
			MinFreePercent *int64 `json:"minFreePercent,omitempty"`
		}{"v1", "fetch", c.Fetch.MaxImageSize, c.Fetch.MaxFiles, c.Fetch.MinFreeSpace, c.Fetch.MinFreePercent})
	}
	entries = append(entries, struct {
		RktVersion string `json:"rktVersion"`
		RktKind    string `json:"rktKind"`
		Name       string `json:"name"`
		Version    string `json:"version"`
		Location   string `json:"location"`
	}{"v1", "stage1", c.Stage1.Name, c.Stage1.Version, c.Stage1.Location})
	return json.Marshal(struct {
		Stage0 []any `json:"stage0"`
	}{entries})
}

type fetchV1 struct {
	RktKind        string          `json:"rktKind"`
	RktVersion     string          `json:"rktVersion"`
	MaxImageSize   json.RawMessage `json:"maxImageSize"`
	MaxFiles       *int64          `json:"maxFiles"`
	MinFreeSpace   json.RawMessage `json:"minFreeSpace"`
	MinFreePercent *int64          `json:"minFreePercent"`
}

func (l *layer) parseFetch(path string, data []byte) error {
	var v fetchV1
	if err := strictUnmarshal(data, &v); err != nil {
		return err
	}
	sizes := []struct {
		key string
		raw json.RawMessage
		dst **int64
	}{
		{"maxImageSize", v.MaxImageSize, &l.fetch.MaxImageSize},
		{"minFreeSpace", v.MinFreeSpace, &l.fetch.MinFreeSpace},
	}
	for _, f := range sizes {
		if len(f.raw) == 0 || string(f.raw) == "null" {
			continue
		}
		n, err := parseSize(f.raw)
		if err != nil {
			return fmt.Errorf("fetch %s: %w", f.key, err)
		}
		if err := l.set("fetch "+f.key, path); err != nil {
			return err
		}
		*f.dst = &n
	}
	counts := []struct {
		key string
		val *int64
		dst **int64
		max int64
	}{
		{"maxFiles", v.MaxFiles, &l.fetch.MaxFiles, 1 << 62},
		{"minFreePercent", v.MinFreePercent, &l.fetch.MinFreePercent, 100},
	}
	for _, f := range counts {
		if f.val == nil {
			continue
		}
		if *f.val < 0 || *f.val > f.max {
			return fmt.Errorf("fetch %s: %w: %d", f.key, ErrBadValue, *f.val)
		}
		if err := l.set("fetch "+f.key, path); err != nil {
			return err
		}
		n := *f.val
		*f.dst = &n
	}
	return nil
}

// sizeUnits are the suffixes parseSize accepts.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1},
}

// parseSize reads a size: a JSON number of bytes, or a string of digits
// with an optional unit ("512MiB", "16GiB", "2GB", "4096").
func parseSize(raw json.RawMessage) (int64, error) {
	var n int64
	if err := json.Unmarshal(raw, &n); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("%w: %d", ErrBadValue, n)
		}
		return n, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("%w: %s (want a number of bytes or a string such as \"16GiB\")", ErrBadValue, raw)
	}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 || v > math.MaxInt64/mult {
		return 0, fmt.Errorf("%w: %q (want a number of bytes or a string such as \"16GiB\")", ErrBadValue, s)
	}
	return v * mult, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
