package run

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/rkt/rkt/stage0/config"
	"github.com/rkt/rkt/stage0/fetch"
	"github.com/rkt/rkt/stage0/podspec"
	"github.com/rkt/rkt/store"
	"github.com/rkt/rkt/store/index"
)

// Stage1Build is what the build chose for stage1 images: configure's
// --with-stage1-* options, compiled into the rkt binary. The zero value
// (a plain `go build`) finds stage1-nspawn.aci beside the binary only.
type Stage1Build struct {
	// Name and Version name the default stage1 image, looked up in the
	// store before any file is read (configure's
	// --with-stage1-default-name and --with-stage1-default-version); both
	// or neither. A stage1.d name and version replace them.
	Name, Version string
	// Location is the default stage1 image file (an absolute path, trusted
	// without a signature) or URL (fetched and verified); a stage1.d
	// location replaces it. Empty: the flavor's file below.
	Location string
	// Flavor's image, stage1-<Flavor>.aci, is the default file when no
	// location is set: beside the rkt binary, then in ImagesDir. Empty:
	// DefaultFlavor.
	Flavor string
	// ImagesDir is the directory the stage1 images are installed in
	// (configure's --with-stage1-images-directory). Files in it are
	// trusted without a signature; --stage1-from-dir names files in it
	// unless paths.d names another directory.
	ImagesDir string
}

// build is cfg.Stage1 with Stage1Default as its location when it has none.
func (cfg *Config) build() Stage1Build {
	b := cfg.Stage1
	if b.Location == "" {
		b.Location = cfg.Stage1Default
	}
	return b
}

func (b Stage1Build) fileName() string {
	f := b.Flavor
	if f == "" {
		f = DefaultFlavor
	}
	return "stage1-" + f + ".aci"
}

// chooseStage1 finds the stage1 image in rkt's order:
//
//  1. a --stage1-* flag;
//  2. name and version (stage1.d's, else the build's) found in the store,
//     unless the version ends in -dirty;
//  3. the location (stage1.d's, else the build's): a URL is fetched and
//     verified, a file is imported, and if it is missing its file name is
//     looked for beside the rkt binary;
//  4. with no location at all, stage1-<flavor>.aci beside the rkt binary,
//     then in the build's stage1 images directory.
//
// Trust: files beside the binary, at the build's location, in the build's
// images directory and at --stage1-path are imported without a signature,
// vouched for by where they are (only root installs there). Any other
// file (a stage1.d location elsewhere, --stage1-from-dir in a paths.d
// directory) and every URL or name go through the verified fetch, so they
// need a signature trusted for the stage1's name or
// --insecure-options=image.
func chooseStage1(ctx context.Context, cfg *Config, c podspec.Stage1Choice) (resolved, error) {
	key, err := stage1Key(ctx, cfg, c)
	if err != nil {
		return resolved{}, fmt.Errorf("preparing pod: choosing the stage1 image: %w", err)
	}
	r, err := resolveKey(ctx, cfg, key)
	if err != nil {
		return resolved{}, fmt.Errorf("preparing pod: stage1 image %s: %w", key, err)
	}
	return r, nil
}

func stage1Fetcher(cfg *Config) *fetch.Fetcher {
	f := *cfg.Fetcher
	f.PullPolicy = fetch.PullNew
	return &f
}

func stage1Key(ctx context.Context, cfg *Config, c podspec.Stage1Choice) (string, error) {
	switch {
	case c.Path != "":
		return importTrusted(cfg, c.Path)
	case c.URL != "":
		return stage1Fetcher(cfg).Fetch(ctx, c.URL, "")
	case c.Name != "":
		return stage1Fetcher(cfg).Fetch(ctx, c.Name, "")
	case c.Hash != "":
		return cfg.Store.ResolveKey(c.Hash)
	}
	conf, err := config.Load(cfg.SystemConfig, cfg.LocalConfig, cfg.UserConfig)
	if err != nil {
		return "", err
	}
	if c.FromDir != "" {
		return importStage1File(ctx, cfg, filepath.Join(stage1ImagesDir(cfg, conf), c.FromDir))
	}

	build := cfg.build()
	name, version := build.Name, build.Version
	if s := conf.Stage1; s.Name != "" {
		name, version = s.Name, s.Version
	}
	if name != "" && version != "" && !strings.HasSuffix(version, "-dirty") {
		if key, err := cfg.Store.FindByName(name, map[string]string{"version": version}); err == nil {
			cfg.log().Debug("stage1 image found in the store by name", "name", name, "version", version, "key", key)
			return key, nil
		}
	}

	loc := build.Location
	if conf.Stage1.Location != "" {
		loc = conf.Stage1.Location
	}
	switch {
	case strings.HasPrefix(loc, "https://"), strings.HasPrefix(loc, "http://"):
		return stage1Fetcher(cfg).Fetch(ctx, loc, "")
	case loc != "":
		path := strings.TrimPrefix(loc, "file://")
		key, err := importStage1File(ctx, cfg, path)
		if !errors.Is(err, os.ErrNotExist) {
			return key, err
		}
		// rkt's second chance: the same file name beside the binary.
		beside := filepath.Join(BinDir(), filepath.Base(path))
		key, err2 := importTrusted(cfg, beside)
		if errors.Is(err2, os.ErrNotExist) {
			return "", fmt.Errorf("%w: %s is missing, and so is %s: %w", ErrNoStage1, path, beside, err)
		}
		return key, err2
	}

	name = build.fileName()
	tried := []string{filepath.Join(BinDir(), name)}
	if d := build.ImagesDir; d != "" && filepath.Clean(d) != BinDir() {
		tried = append(tried, filepath.Join(d, name))
	}
	for _, p := range tried {
		key, err := importTrusted(cfg, p)
		if !errors.Is(err, os.ErrNotExist) {
			return key, err
		}
	}
	return "", fmt.Errorf("%w: %s is missing (looked in %s; build it with make, install it with make install, or choose one with --stage1-path)",
		ErrNoStage1, name, strings.Join(dirsOf(tried), " and "))
}

func dirsOf(paths []string) []string {
	dirs := make([]string, len(paths))
	for i, p := range paths {
		dirs[i] = filepath.Dir(p)
	}
	return dirs
}

// importStage1File imports a stage1 image file: without a signature when
// its location is trusted, through the verified fetch otherwise.
func importStage1File(ctx context.Context, cfg *Config, path string) (string, error) {
	trusted, err := trustedLocation(cfg, path)
	if err != nil {
		return "", err
	}
	if trusted {
		return importTrusted(cfg, path)
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("importing stage1 image %s: %w", path, err)
	}
	cfg.log().Debug("stage1 image outside the trusted locations: verifying its signature", "path", path)
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("importing stage1 image %s: %w", path, err)
	}
	return stage1Fetcher(cfg).Fetch(ctx, "file://"+abs, "")
}

// trustedLocation tells whether path is one of the build's stage1
// locations: the default location, a file in the images directory, or a
// file beside the rkt binary.
func trustedLocation(cfg *Config, path string) (bool, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false, fmt.Errorf("importing stage1 image %s: %w", path, err)
	}
	b := cfg.build()
	if l := b.Location; l != "" && filepath.Clean(strings.TrimPrefix(l, "file://")) == abs {
		return true, nil
	}
	for _, dir := range []string{b.ImagesDir, BinDir()} {
		if dir != "" && strings.HasPrefix(abs, filepath.Clean(dir)+string(filepath.Separator)) {
			return true, nil
		}
	}
	return false, nil
}

// stage1ImagesDir is where --stage1-from-dir looks: paths.d's
// stage1-images, else the build's images directory, else the binary's
// directory.
func stage1ImagesDir(cfg *Config, conf *config.Config) string {
	if d := conf.Paths.Stage1ImagesDir; d != "" {
		return d
	}
	if cfg.Stage1.ImagesDir != "" {
		return cfg.Stage1.ImagesDir
	}
	return BinDir()
}

// BinDir is the directory of the running binary, symlinks resolved ("."
// when it cannot be told): where rkt looks for the programs and images
// that a build puts beside it.
func BinDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "."
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return filepath.Dir(exe)
}

// trustedPrefix marks the store's remote rows that remember which image a
// stage1 file trusted by location was imported as.
const trustedPrefix = "file://"

// importTrusted imports the ACI file at path into the store without a
// signature check: its location vouches for it (rkt's rule for stage1
// images). The file's identity (device, inode, size, mtime) is remembered
// in a remote row keyed by its file:// URL, so a file already imported is
// neither read nor hashed again.
func importTrusted(cfg *Config, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("importing stage1 image %s: %w", path, err)
	}
	f, err := os.Open(abs)
	if err != nil {
		return "", fmt.Errorf("importing stage1 image %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("importing stage1 image %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("importing stage1 image %s: not a regular file", path)
	}
	url := trustedPrefix + abs
	etag := fileIdentity(st)
	if rem, err := cfg.Store.Remote(url); err == nil && rem != nil && rem.ETag == etag && rem.BlobKey != "" {
		// Manifest checks the row as Image would, and keeps what it
		// read for the render of the stage1 that follows.
		if _, _, err := cfg.Store.Manifest(rem.BlobKey); err == nil {
			cfg.log().Debug("stage1 image trusted by location, already imported", "path", abs, "key", rem.BlobKey)
			return rem.BlobKey, nil
		}
	}
	cfg.log().Debug("importing stage1 image trusted by location, without a signature", "path", abs)
	key, err := ingestFile(cfg.Store, f)
	if err != nil {
		return "", fmt.Errorf("importing stage1 image %s: %w", path, err)
	}
	if err := cfg.Store.PutRemote(index.Remote{ACIURL: url, ETag: etag, BlobKey: key, DownloadTime: time.Now()}); err != nil {
		cfg.log().Debug("remembering the stage1 import", "path", abs, "err", err)
	}
	return key, nil
}

// ingestFile streams an ACI (plain, gzip, xz or zstd) into the store.
func ingestFile(s ImageStore, f io.Reader) (key string, retErr error) {
	br := bufio.NewReaderSize(f, 64<<10)
	r, err := decompress(br)
	if err != nil {
		return "", err
	}
	defer r.Close()
	in, err := s.NewIngest()
	if err != nil {
		return "", err
	}
	defer func() {
		if retErr != nil {
			in.Abort()
		}
	}()
	if _, err := io.Copy(in, r); err != nil {
		return "", err
	}
	if _, err := in.Finish(); err != nil {
		return "", err
	}
	return in.Commit(store.ImportMeta{})
}

func decompress(br *bufio.Reader) (io.ReadCloser, error) {
	head, _ := br.Peek(6)
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		return zr, nil
	case len(head) >= 6 && string(head) == "\xfd7zXZ\x00":
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(xr), nil
	case len(head) >= 4 && string(head[:4]) == "\x28\xb5\x2f\xfd":
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<27))
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// fileIdentity changes whenever the file is replaced or rewritten.
func fileIdentity(st os.FileInfo) string {
	id := fmt.Sprintf("size=%d,mtime=%d", st.Size(), st.ModTime().UnixNano())
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		id = fmt.Sprintf("dev=%d,ino=%d,ctime=%d.%d,", sys.Dev, sys.Ino, sys.Ctim.Sec, sys.Ctim.Nsec) + id
	}
	return id
}
