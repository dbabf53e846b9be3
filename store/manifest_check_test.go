package store

import (
	"errors"
	"testing"

	"github.com/rkt/rkt/store/storetest"
)

func TestIngestRefusesUnusableManifests(t *testing.T) {
	s := openStore(t, t.TempDir())
	manifest := func(version, env string) []byte {
		return []byte(`{"acKind":"ImageManifest","acVersion":"` + version + `","name":"example.com/app",` +
			`"app":{"exec":["/bin/true"],"user":"0","group":"0","environment":[{"name":"E","value":"` + env + `"}]}}`)
	}
	for _, tc := range []struct {
		what     string
		manifest []byte
		want     error
	}{
		{"invalid UTF-8 in an environment value", manifest("0.8.11", "a\xffb"), ErrInvalidManifest},
		{"a NUL in an environment value", manifest("0.8.11", `a\u0000b`), ErrInvalidManifest},
		{"a newer major acVersion", manifest("1.0.0", "x"), ErrUnsupportedACVersion},
	} {
		if _, err := ingest(s, storetest.BuildACIWithManifest(t, tc.manifest), ImportMeta{}); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.what, err, tc.want)
		}
	}
	assertEmpty(t, s)
	for _, v := range []string{"0.8.11", "0.8.99", "0.9.0", "0.1.0"} {
		if _, err := ingest(s, storetest.BuildACIWithManifest(t, manifest(v, "héllo")), ImportMeta{}); err != nil {
			t.Errorf("acVersion %s: %v, want it accepted", v, err)
		}
	}
}
