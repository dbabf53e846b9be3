package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzConfigFile feeds each kind directory (auth.d, paths.d, stage1.d) an
// arbitrary file. Seeds are the files of rkt's configuration guide
// (testdata/<kind dir>/*.json). Properties:
//   - every error names the file and is one of the package's errors or
//     the JSON decoder's;
//   - an accepted file sets only complete entries (credentials of a known
//     type, stage1 name and version together);
//   - loading the file from two roots gives what one root gives (a later
//     root overrides per key, so the same key set twice is the same);
//   - two copies of the file in one directory are a *DuplicateError as
//     soon as the file sets anything, and harmless otherwise;
//   - what `rkt config` prints loads back, as files, to the same
//     configuration.
func FuzzConfigFile(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed configuration files in testdata (%v)", err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		kd := filepath.Base(filepath.Dir(p))
		for i, d := range kindDirs {
			if d == kd {
				f.Add(uint8(i), b)
			}
		}
	}
	base := f.TempDir()
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		kd := kindDirs[int(kind)%len(kindDirs)]
		single := filepath.Join(base, "single-"+kd)
		double := filepath.Join(base, "double-"+kd)
		file := filepath.Join(single, kd, "a.json")
		write := func(paths ...string) {
			for _, p := range paths {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		write(file)

		c, err := Load(single)
		if err != nil {
			checkConfigError(t, err, file)
			return
		}
		checkComplete(t, c)
		twice, err := Load(single, single)
		if err != nil || !reflect.DeepEqual(c, twice) {
			t.Fatalf("one root gives %+v, the same root twice %+v (%v)", c, twice, err)
		}
		write(filepath.Join(double, kd, "a.json"), filepath.Join(double, kd, "b.json"))
		d, err := Load(double)
		var dup *DuplicateError
		if setsAnything(c) {
			if !errors.As(err, &dup) {
				t.Fatalf("two copies of a file setting %+v in one directory: %v, want *DuplicateError", c, err)
			}
		} else if err != nil || !reflect.DeepEqual(d, c) {
			t.Fatalf("two copies of a file setting nothing: %+v, %v", d, err)
		}
		checkPrintedLoads(t, c, filepath.Join(base, "printed"))
	})
}

func checkConfigError(t *testing.T, err error, file string) {
	t.Helper()
	if !strings.Contains(err.Error(), file) {
		t.Fatalf("error does not name the file: %v", err)
	}
	var (
		kindErr *KindError
		verErr  *VersionError
		typeErr *AuthTypeError
		dupErr  *DuplicateError
		synErr  *json.SyntaxError
		typErr  *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, ErrNoKind), errors.Is(err, ErrMissingField), errors.Is(err, ErrStage1NameVersion):
	case errors.As(err, &kindErr), errors.As(err, &verErr), errors.As(err, &typeErr), errors.As(err, &dupErr):
	case errors.As(err, &synErr), errors.As(err, &typErr):
	case strings.Contains(err.Error(), "json: unknown field"):
		// The decoder's refusal of an unknown field has no type of its own.
	default:
		t.Fatalf("unexpected error %T: %v", errors.Unwrap(err), err)
	}
}

func checkComplete(t *testing.T, c *Config) {
	t.Helper()
	for d, a := range c.Auth {
		ok := d != ""
		switch a.Type {
		case AuthBasic:
			ok = ok && a.User != "" && a.Password != ""
		case AuthOAuth:
			ok = ok && a.Token != ""
		case AuthAWS:
			ok = ok && a.AccessKeyID != "" && a.SecretAccessKey != ""
		default:
			ok = false
		}
		if !ok {
			t.Fatalf("incomplete auth for %q accepted: %+v", d, a)
		}
	}
	for r, a := range c.DockerAuth {
		if r == "" || a.User == "" || a.Password == "" {
			t.Fatalf("incomplete docker auth for %q accepted: %+v", r, a)
		}
	}
	if (c.Stage1.Name == "") != (c.Stage1.Version == "") {
		t.Fatalf("stage1 name without version accepted: %+v", c.Stage1)
	}
}

func setsAnything(c *Config) bool {
	return len(c.Auth) > 0 || len(c.DockerAuth) > 0 || c.Paths != (Paths{}) || c.Stage1 != (Stage1{})
}

// checkPrintedLoads checks that what `rkt config` prints is in the v1
// file format: each printed entry, written as a file of its kind
// directory, loads back to the same configuration.
func checkPrintedLoads(t *testing.T, c *Config, root string) {
	t.Helper()
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("printing the configuration: %v", err)
	}
	var printed struct {
		Stage0 []json.RawMessage `json:"stage0"`
	}
	if err := json.Unmarshal(out, &printed); err != nil {
		t.Fatalf("reading the printed configuration: %v\n%s", err, out)
	}
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	dirOf := map[string]string{"auth": "auth.d", "dockerAuth": "auth.d", "paths": "paths.d", "stage1": "stage1.d"}
	for i, e := range printed.Stage0 {
		var h header
		if err := json.Unmarshal(e, &h); err != nil || dirOf[h.RktKind] == "" {
			t.Fatalf("printed entry of no known kind (%v): %s", err, e)
		}
		p := filepath.Join(root, dirOf[h.RktKind], fmt.Sprintf("%d.json", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, e, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	back, err := Load(root)
	if err != nil {
		t.Fatalf("the printed configuration does not load: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(withoutSources(back), withoutSources(c)) {
		t.Fatalf("the printed configuration loads as %+v, not %+v\n%s", back, c, out)
	}
}

// withoutSources returns c without the names of the files entries came
// from.
func withoutSources(c *Config) *Config {
	out := &Config{Auth: map[string]Auth{}, DockerAuth: map[string]DockerAuth{}, Paths: c.Paths, Stage1: c.Stage1}
	for k, a := range c.Auth {
		a.Source = ""
		out.Auth[k] = a
	}
	for k, a := range c.DockerAuth {
		a.Source = ""
		out.DockerAuth[k] = a
	}
	return out
}
