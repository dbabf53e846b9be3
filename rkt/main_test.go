package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// env is an isolated set of directories for one in-process rkt run.
type env struct {
	dir, local, system string
}

func newEnv(t *testing.T) env {
	t.Helper()
	root := t.TempDir()
	e := env{dir: filepath.Join(root, "data"), local: filepath.Join(root, "local"), system: filepath.Join(root, "system")}
	for _, d := range []string{e.local, e.system} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// result is what one rkt invocation produced.
type result struct {
	stdout, stderr string
	code           int
	err            error
}

// rkt runs the command line in-process with e's directories.
func (e env) rkt(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return e.rktTTY(t, nil, stdin, args...)
}

// rktTTY is rkt with stdin's terminal detection overridden when tty is set.
func (e env) rktTTY(t *testing.T, tty *bool, stdin string, args ...string) result {
	t.Helper()
	full := append([]string{"--dir", e.dir, "--local-config", e.local, "--system-config", e.system}, args...)
	var out, errb bytes.Buffer
	g := &globalFlags{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, stdinTTY: tty}
	err := runWith(context.Background(), g, full)
	return result{stdout: out.String(), stderr: errb.String(), code: exitCode(err), err: err}
}

// TestExitCodesAndErrorFormat: rkt 1.30's exit codes, 254 for every error
// (bad usage included) and 2 for a missing command, and its error lines.
func TestExitCodesAndErrorFormat(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args       []string
		code       int
		stderrHead string
	}{
		{[]string{"version"}, 0, ""},
		{[]string{"version", "extra"}, 254, "version: "},
		{[]string{"--insecure-options=foo", "version"}, 254, `version: invalid argument "foo"`},
		{[]string{"--insecure-options=image,tls", "version"}, 0, ""},
		{[]string{"--no-such-flag", "version"}, 254, "rkt: unknown flag: --no-such-flag"},
		{[]string{"image", "list", "--bogus"}, 254, "image list: unknown flag: --bogus"},
		{[]string{"image", "list", "--order=sideways"}, 254, `image list: invalid --order "sideways"`},
		{[]string{"image", "list", "--fields=id,color"}, 254, `image list: invalid --fields field "color"`},
		{[]string{"image", "list", "--format=yaml"}, 254, `image list: invalid --format "yaml"`},
		{[]string{"completion", "tcsh"}, 254, `completion: invalid argument "tcsh"`},
		{[]string{"nosuchcommand"}, 254, `rkt: unknown command "nosuchcommand"`},
		{[]string{"image", "nosuchcommand"}, 254, `image: unknown command "nosuchcommand"`},
		// Only a missing command exits 2 (rkt 1.30's runMissingCommand).
		{[]string{}, 2, ""},
		{[]string{"image"}, 0, ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := e.rkt(t, "", tc.args...)
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", r.code, tc.code, r.stderr)
			}
			if tc.code == 2 {
				if !strings.Contains(r.stderr, "missing command") {
					t.Errorf("stderr %q, want it to say missing command", r.stderr)
				}
				return
			}
			if !strings.HasPrefix(r.stderr, tc.stderrHead) || (tc.stderrHead == "" && r.stderr != "") {
				t.Errorf("stderr %q, want it to start with %q", r.stderr, tc.stderrHead)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	r := newEnv(t).rkt(t, "", "version")
	want := []string{
		"rkt Version: ",
		"appc Version: 0.8.11",
		"Go Version: " + runtime.Version(),
		"Go OS/Arch: " + runtime.GOOS + "/" + runtime.GOARCH,
		"Features: ",
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %q, want %d lines", r.stdout, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], w)
		}
	}
}

func TestConfigCommand(t *testing.T) {
	e := newEnv(t)
	write := func(root, rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(e.system, "auth.d/a.json", `{"rktKind":"auth","rktVersion":"v1","domains":["registry.example"],"type":"basic","credentials":{"user":"bob","password":"hunter2"}}`)
	write(e.local, "stage1.d/s.json", `{"rktKind":"stage1","rktVersion":"v1","name":"example.com/stage1","version":"1.0"}`)

	r := e.rkt(t, "", "config", "--pretty-print=false")
	if r.code != 0 {
		t.Fatalf("rc %d: %s", r.code, r.stderr)
	}
	if strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("--pretty-print=false output is not one line: %q", r.stdout)
	}
	// rkt 1.30 printed the credentials: whoever runs this can read them.
	if !strings.Contains(r.stdout, `"password":"hunter2"`) {
		t.Errorf("config output lacks the configured password, as rkt 1.30 printed it: %s", r.stdout)
	}
	var doc struct {
		Stage0 []map[string]any `json:"stage0"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("output %q: %v", r.stdout, err)
	}
	got := map[string]map[string]any{}
	for _, entry := range doc.Stage0 {
		got[entry["rktKind"].(string)] = entry
	}
	if got["auth"]["domains"].([]any)[0] != "registry.example" {
		t.Errorf("auth entry %v", got["auth"])
	}
	// Not configured: rkt 1.30 printed "", not --dir or the default.
	if got["paths"]["data"] != "" {
		t.Errorf("paths data %v, want \"\" (no paths.d file sets it)", got["paths"]["data"])
	}
	if got["stage1"]["name"] != "example.com/stage1" || got["stage1"]["version"] != "1.0" {
		t.Errorf("stage1 entry %v", got["stage1"])
	}

	write(e.local, "paths.d/bad.json", `{"rktKind":"paths","rktVersion":"v9"}`)
	r = e.rkt(t, "", "config")
	if r.code != 254 || !strings.HasPrefix(r.stderr, "config: loading configuration: ") || !strings.Contains(r.stderr, "bad.json") {
		t.Errorf("bad config: rc %d, stderr %q; want 254 and a message naming the file", r.code, r.stderr)
	}
}

func TestCompletionBash(t *testing.T) {
	r := newEnv(t).rkt(t, "", "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "complete -o default -F __start_rkt rkt") {
		t.Errorf("rc %d, stdout starts %q, stderr %q", r.code, r.stdout[:min(len(r.stdout), 200)], r.stderr)
	}
}

func TestCompletionZshFish(t *testing.T) {
	for shell, want := range map[string]string{"zsh": "#compdef rkt", "fish": "complete -c rkt "} {
		r := newEnv(t).rkt(t, "", "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("completion %s: rc %d, stdout starts %q, stderr %q; want it to contain %q", shell, r.code, r.stdout[:min(len(r.stdout), 200)], r.stderr, want)
		}
	}
}
