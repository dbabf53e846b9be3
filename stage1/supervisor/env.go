package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/appc/spec/schema/types"

	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage1/appexec"
)

// DefaultPath is rkt's PATH for apps that do not set one.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// environ is an environment that keeps the order in which names were first
// set; setting a name again replaces its value in place.
type environ struct {
	names  []string
	values map[string]string
}

func newEnviron() *environ { return &environ{values: map[string]string{}} }

func (e *environ) Set(name, value string) {
	if _, ok := e.values[name]; !ok {
		e.names = append(e.names, name)
	}
	e.values[name] = value
}

func (e *environ) Get(name string) (string, bool) {
	v, ok := e.values[name]
	return v, ok
}

// List returns KEY=VALUE strings in order.
func (e *environ) List() []string {
	out := make([]string, 0, len(e.names))
	for _, n := range e.names {
		out = append(out, n+"="+e.values[n])
	}
	return out
}

// envInput is what an app's environment is made of.
type envInput struct {
	App         string
	Image       types.Environment // the image manifest's app environment
	Override    types.Environment // the pod manifest's app environment (flags)
	SetEnv      map[string]string // runtime config SetEnv, for every app
	MetadataURL string
	ID          appexec.Identity
	Term        string // TERM for an interactive app, "" otherwise
}

// buildEnv returns an app's environment, later sources overriding earlier
// ones: rkt's defaults (PATH, HOME, USER, LOGNAME, SHELL, TERM), the image's
// environment, the pod manifest's, the runtime SetEnv; AC_APP_NAME and
// AC_METADATA_URL come last and cannot be overridden.
func buildEnv(in envInput) (*environ, error) {
	env := newEnviron()
	env.Set("PATH", DefaultPath)
	home, shell := in.ID.Home, in.ID.Shell
	if home == "" {
		home = "/"
	}
	if shell == "" {
		shell = "/bin/sh"
	}
	env.Set("HOME", home)
	if in.ID.Name != "" {
		env.Set("USER", in.ID.Name)
		env.Set("LOGNAME", in.ID.Name)
	}
	env.Set("SHELL", shell)
	if in.Term != "" {
		env.Set("TERM", in.Term)
	}
	for _, src := range []types.Environment{in.Image, in.Override} {
		for _, v := range src {
			if err := checkEnvVar(v.Name, v.Value); err != nil {
				return nil, err
			}
			env.Set(v.Name, v.Value)
		}
	}
	keys := make([]string, 0, len(in.SetEnv))
	for k := range in.SetEnv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := checkEnvVar(k, in.SetEnv[k]); err != nil {
			return nil, err
		}
		env.Set(k, in.SetEnv[k])
	}
	env.Set("AC_APP_NAME", in.App)
	if in.MetadataURL != "" {
		env.Set("AC_METADATA_URL", in.MetadataURL)
	}
	return env, nil
}

func checkEnvVar(name, value string) error {
	if name == "" || strings.ContainsAny(name, "=\x00") {
		return fmt.Errorf("setting environment variable %q: invalid name", name)
	}
	if strings.ContainsRune(value, 0) {
		return fmt.Errorf("setting environment variable %q: value contains a NUL byte", name)
	}
	return nil
}

// writeEnvFile records an app's environment as KEY=VALUE lines in
// <root>/rkt/env/<app>, atomically for a reader (rkt enter), without an
// fsync: it is remade at every start.
func writeEnvFile(root, app string, env *environ) error {
	dir := filepath.Join(root, podlayout.InPodEnvDir)
	var b strings.Builder
	for _, kv := range env.List() {
		b.WriteString(kv)
		b.WriteByte('\n')
	}
	if err := atomicfile.ReplaceFile(filepath.Join(dir, app), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("recording the environment of app %s: %w", app, err)
	}
	return nil
}
