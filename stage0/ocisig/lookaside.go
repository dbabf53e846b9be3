package ocisig

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/rkt/rkt/stage0/trust"
)

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// parseDigest checks "sha256:<64 hex>" and returns the hex.
func parseDigest(d string) (string, error) {
	hex, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		return "", fmt.Errorf("manifest digest %q is not sha256:<64 hex digits>", d)
	}
	return hex, nil
}

// lookasideBase returns the URL under which the signatures of the image
// sit, or "" when registries.d names no lookaside for it.
func (v *verifier) lookasideBase() (string, error) {
	regs, err := LoadRegistries(v.opts.RegistriesDirs...)
	if err != nil {
		return "", err
	}
	base, err := regs.lookaside(v.pulled.identity(), v.pulled.repo)
	if err != nil || base == "" {
		return "", err
	}
	return strings.TrimRight(base, "/") + "/" + v.pulled.path, nil
}

// simpleSignatures reads signature-1, signature-2, ... from the lookaside,
// until the first that does not exist.
func (v *verifier) simpleSignatures(ctx context.Context) ([]found, string, error) {
	base, err := v.lookasideBase()
	if err != nil || base == "" {
		return nil, "", err
	}
	hex, _ := parseDigest(v.req.ManifestDigest)
	dir := fmt.Sprintf("%s@sha256=%s", base, hex)
	u, err := url.Parse(dir)
	if err != nil {
		return nil, "", fmt.Errorf("lookaside %q: %w", base, err)
	}
	switch u.Scheme {
	case "file", "https":
	case "http":
		if !v.opts.AllowHTTP {
			return nil, "", fmt.Errorf("lookaside %s is plain http; rerun with --insecure-options=http to read it (signatures are checked all the same)", base)
		}
	default:
		return nil, "", fmt.Errorf("lookaside %q: scheme %q is not file, https or http", base, u.Scheme)
	}
	var out []found
	for n := 1; n <= MaxSignatures; n++ {
		src := fmt.Sprintf("%s/signature-%d", dir, n)
		data, err := v.readLookaside(ctx, u, src)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("reading signature %s: %w", src, err)
		}
		out = append(out, found{source: src, data: data})
	}
	return out, "lookaside " + dir, nil
}

// readLookaside reads one signature; fs.ErrNotExist when it is absent.
func (v *verifier) readLookaside(ctx context.Context, base *url.URL, src string) ([]byte, error) {
	if base.Scheme == "file" {
		u, err := url.Parse(src)
		if err != nil {
			return nil, err
		}
		f, err := os.Open(u.Path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return readCapped(f)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, err
	}
	resp, err := v.opts.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fs.ErrNotExist
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("server said %s", resp.Status)
	}
	return readCapped(resp.Body)
}

func readCapped(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, trust.MaxMessageSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > trust.MaxMessageSize {
		return nil, fmt.Errorf("signature is larger than %d bytes", trust.MaxMessageSize)
	}
	return data, nil
}
