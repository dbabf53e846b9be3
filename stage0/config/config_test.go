package config

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConf(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadMergesLayers(t *testing.T) {
	system, local, user := t.TempDir(), t.TempDir(), t.TempDir()
	writeConf(t, system, "auth.d/a.json", `{"rktKind":"auth","rktVersion":"v1","domains":["a.example","b.example"],"type":"basic","credentials":{"user":"sys","password":"syspw"}}`)
	writeConf(t, system, "paths.d/p.json", `{"rktKind":"paths","rktVersion":"v1","data":"/sys/data","stage1-images":"/sys/s1"}`)
	writeConf(t, system, "stage1.d/s.json", `{"rktKind":"stage1","rktVersion":"v1","name":"example.com/stage1","version":"1","location":"/sys/stage1.aci"}`)
	writeConf(t, local, "auth.d/b.json", `{"rktKind":"auth","rktVersion":"v1","domains":["b.example"],"type":"oauth","credentials":{"token":"tok"}}`)
	writeConf(t, local, "paths.d/p.json", `{"rktKind":"paths","rktVersion":"v1","data":"/local/data"}`)
	writeConf(t, user, "stage1.d/s.json", `{"rktKind":"stage1","rktVersion":"v1","name":"example.com/other","version":"2"}`)
	writeConf(t, user, "auth.d/d.json", `{"rktKind":"dockerAuth","rktVersion":"v1","registries":["index.docker.io"],"credentials":{"user":"du","password":"dp"}}`)
	// Not read: wrong extension, and a subdirectory.
	writeConf(t, user, "auth.d/notes.txt", `garbage`)
	writeConf(t, user, "auth.d/sub/x.json", `garbage`)

	c, err := Load(system, local, "", user)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Auth["a.example"]; got.Type != AuthBasic || got.User != "sys" {
		t.Errorf("a.example: got %+v, want system basic auth", got)
	}
	if got := c.Auth["b.example"]; got.Type != AuthOAuth || got.Token != "tok" {
		t.Errorf("b.example: got %+v, want local oauth to override system basic", got)
	}
	if c.Paths.DataDir != "/local/data" || c.Paths.Stage1ImagesDir != "/sys/s1" {
		t.Errorf("paths: got %+v, want data from local and stage1-images from system", c.Paths)
	}
	want := Stage1{Name: "example.com/other", Version: "2", Location: "/sys/stage1.aci"}
	if c.Stage1 != want {
		t.Errorf("stage1: got %+v, want %+v", c.Stage1, want)
	}
	if c.DockerAuth["index.docker.io"].User != "du" {
		t.Errorf("docker auth: got %+v", c.DockerAuth)
	}

	h := c.AuthHeaders()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("sys:syspw"))
	if got := h["a.example"].Get("Authorization"); got != basic {
		t.Errorf("a.example header: got %q, want %q", got, basic)
	}
	if got := h["b.example"].Get("Authorization"); got != "Bearer tok" {
		t.Errorf("b.example header: got %q, want Bearer tok", got)
	}
	if len(h) != 2 {
		t.Errorf("headers for %d domains, want 2: %v", len(h), h)
	}
}

func TestLoadMissingRoots(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "absent"), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Auth) != 0 || c.Paths != (Paths{}) || c.Stage1 != (Stage1{}) {
		t.Errorf("got %+v, want an empty config", c)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		check func(error) bool
	}{
		{"duplicate domain in one dir", map[string]string{
			"auth.d/1.json": `{"rktKind":"auth","rktVersion":"v1","domains":["x"],"type":"oauth","credentials":{"token":"a"}}`,
			"auth.d/2.json": `{"rktKind":"auth","rktVersion":"v1","domains":["x"],"type":"oauth","credentials":{"token":"b"}}`,
		}, func(err error) bool { var d *DuplicateError; return errors.As(err, &d) }},
		{"duplicate data path in one dir", map[string]string{
			"paths.d/1.json": `{"rktKind":"paths","rktVersion":"v1","data":"/a"}`,
			"paths.d/2.json": `{"rktKind":"paths","rktVersion":"v1","data":"/b"}`,
		}, func(err error) bool { var d *DuplicateError; return errors.As(err, &d) }},
		{"kind in wrong dir", map[string]string{
			"paths.d/1.json": `{"rktKind":"auth","rktVersion":"v1"}`,
		}, func(err error) bool { var k *KindError; return errors.As(err, &k) }},
		{"bad version", map[string]string{
			"paths.d/1.json": `{"rktKind":"paths","rktVersion":"v2"}`,
		}, func(err error) bool { var v *VersionError; return errors.As(err, &v) }},
		{"no kind", map[string]string{
			"paths.d/1.json": `{"rktVersion":"v1"}`,
		}, func(err error) bool { return errors.Is(err, ErrNoKind) }},
		{"unknown auth type", map[string]string{
			"auth.d/1.json": `{"rktKind":"auth","rktVersion":"v1","domains":["x"],"type":"digest","credentials":{}}`,
		}, func(err error) bool { var a *AuthTypeError; return errors.As(err, &a) }},
		{"basic without password", map[string]string{
			"auth.d/1.json": `{"rktKind":"auth","rktVersion":"v1","domains":["x"],"type":"basic","credentials":{"user":"u"}}`,
		}, func(err error) bool { return errors.Is(err, ErrMissingField) }},
		{"stage1 name without version", map[string]string{
			"stage1.d/1.json": `{"rktKind":"stage1","rktVersion":"v1","name":"example.com/s1"}`,
		}, func(err error) bool { return errors.Is(err, ErrStage1NameVersion) }},
		{"unknown field", map[string]string{
			"paths.d/1.json": `{"rktKind":"paths","rktVersion":"v1","dta":"/a"}`,
		}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "dta") }},
		{"not JSON", map[string]string{
			"stage1.d/1.json": `{`,
		}, func(err error) bool { return err != nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			var file string
			for rel, content := range tc.files {
				writeConf(t, root, rel, content)
				file = rel
			}
			_, err := Load(root)
			if err == nil || !tc.check(err) {
				t.Fatalf("got error %v, want the typed error", err)
			}
			if !strings.Contains(err.Error(), filepath.Dir(filepath.Join(root, file))) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

// rkt config prints the files' content as rkt 1.30 did, credentials
// included, so that a configuration can be checked and copied.
func TestMarshalJSONPrintsConfiguration(t *testing.T) {
	root := t.TempDir()
	writeConf(t, root, "auth.d/a.json", `{"rktKind":"auth","rktVersion":"v1","domains":["a.example"],"type":"basic","credentials":{"user":"u","password":"s3cret"}}`)
	writeConf(t, root, "auth.d/b.json", `{"rktKind":"auth","rktVersion":"v1","domains":["b.example"],"type":"oauth","credentials":{"token":"t0ken"}}`)
	writeConf(t, root, "auth.d/d.json", `{"rktKind":"dockerAuth","rktVersion":"v1","registries":["r.example"],"credentials":{"user":"du","password":"dpass"}}`)
	writeConf(t, root, "paths.d/p.json", `{"rktKind":"paths","rktVersion":"v1","data":"/d"}`)
	c, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, cred := range []string{`"password":"s3cret"`, `"token":"t0ken"`, `"password":"dpass"`} {
		if !strings.Contains(string(out), cred) {
			t.Errorf("output %s lacks %s", out, cred)
		}
	}
	var doc struct {
		Stage0 []map[string]any `json:"stage0"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range doc.Stage0 {
		kinds = append(kinds, e["rktKind"].(string))
		if e["rktVersion"] != "v1" {
			t.Errorf("entry %v without rktVersion v1", e)
		}
	}
	if got, want := strings.Join(kinds, ","), "auth,auth,dockerAuth,paths,stage1"; got != want {
		t.Errorf("kinds %s, want %s", got, want)
	}
	if doc.Stage0[3]["data"] != "/d" {
		t.Errorf("paths entry %v, want data /d", doc.Stage0[3])
	}
}
