package tests

import (
	"strings"
	"testing"

	"github.com/rkt/rkt/store/storetest"
)

// TestManifestUTF8AndVersion: an image whose manifest is not UTF-8 (an
// environment value with a bad byte) or whose acVersion has a newer major
// version is refused by fetch and leaves nothing in the store; a 0.x
// acVersion other than rkt's own is accepted.
func TestManifestUTF8AndVersion(t *testing.T) {
	t.Parallel()
	e, _, sign := signedSetup(t)
	manifest := func(version, env string) []byte {
		return []byte(`{"acKind":"ImageManifest","acVersion":"` + version + `","name":"` + e.name("app") + `",` +
			`"labels":[{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}],` +
			`"app":{"exec":["/bin/true"],"user":"0","group":"0","environment":[{"name":"E","value":"` + env + `"}]}}`)
	}
	for _, tc := range []struct {
		file, version, env string
		words              []string
	}{
		{"bad-utf8.aci", "0.8.11", "a\xffb", []string{"UTF-8"}},
		{"future.aci", "1.0.0", "x", []string{"acVersion", "1.0.0"}},
	} {
		aci := storetest.BuildACIWithManifest(t, manifest(tc.version, tc.env))
		_, stderr := e.fails(254, "fetch", e.writeSigned(tc.file, aci, sign(aci)))
		assertMentions(t, "fetch of "+tc.file, stderr, tc.words...)
	}
	e.assertStore()
	aci := storetest.BuildACIWithManifest(t, manifest("0.8.99", "héllo"))
	e.fetchID(e.writeSigned("ok.aci", aci, sign(aci)))
	e.assertStore(storetest.ImageID(aci))
}

// TestSetEnvInvalidUTF8: --set-env with a value that is not UTF-8 is bad
// usage, refused before a pod exists.
func TestSetEnvInvalidUTF8(t *testing.T) {
	t.Parallel()
	pe := newPodEnv(t)
	img := pe.shImage("app", `echo should-not-run`)
	out, stderr, code := pe.run("--net=none", "--set-env=BAD=a\xffb", img)
	if code != 254 {
		t.Errorf("run --set-env with invalid UTF-8: exit %d, want 254", code)
	}
	assertMentions(t, "run --set-env with invalid UTF-8", stderr, "UTF-8", "BAD")
	if strings.Contains(out, "should-not-run") {
		t.Error("run --set-env with invalid UTF-8 ran the app")
	}
	if ds := pe.podDirs(); len(ds) != 0 {
		t.Errorf("run --set-env with invalid UTF-8 left pods behind: %v", ds)
	}
}
