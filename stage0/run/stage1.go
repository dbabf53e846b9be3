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

// chooseStage1 finds the stage1 image in rkt's order: the --stage1-* flag,
// the stage1.d configuration (name and version in the store, else its
// location), the default image beside the binary. Images found at a local
// path (--stage1-path, --stage1-from-dir, a stage1.d location that is a
// file, the default) are trusted by their location and imported without a
// signature; --stage1-url, --stage1-name and a stage1.d URL go through the
// verified fetch.
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
		return importTrusted(cfg, filepath.Join(stage1ImagesDir(cfg, conf), c.FromDir))
	}
	if s := conf.Stage1; s.Name != "" || s.Location != "" {
		if s.Name != "" && !strings.HasSuffix(s.Version, "-dirty") {
			if key, err := cfg.Store.FindByName(s.Name, map[string]string{"version": s.Version}); err == nil {
				return key, nil
			}
		}
		switch loc := s.Location; {
		case strings.HasPrefix(loc, "https://"), strings.HasPrefix(loc, "http://"):
			return stage1Fetcher(cfg).Fetch(ctx, loc, "")
		case loc != "":
			return importTrusted(cfg, strings.TrimPrefix(loc, "file://"))
		}
		return "", fmt.Errorf("%w: stage1.d names %s:%s, which is not in the store, and gives no location", ErrNoStage1, s.Name, s.Version)
	}
	def := cfg.Stage1Default
	if def == "" {
		def = filepath.Join(binDir(), "stage1-"+DefaultFlavor+".aci")
	}
	key, err := importTrusted(cfg, def)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w: %s is missing (build it with make, or choose one with --stage1-path)", ErrNoStage1, def)
	}
	return key, err
}

// stage1ImagesDir is paths.d's stage1-images, else the directory of the
// default stage1 image, else the binary's directory.
func stage1ImagesDir(cfg *Config, conf *config.Config) string {
	if d := conf.Paths.Stage1ImagesDir; d != "" {
		return d
	}
	if cfg.Stage1Default != "" {
		return filepath.Dir(cfg.Stage1Default)
	}
	return binDir()
}

func binDir() string {
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
		if _, err := cfg.Store.Image(rem.BlobKey); err == nil {
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
func ingestFile(s *store.Store, f io.Reader) (key string, retErr error) {
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
