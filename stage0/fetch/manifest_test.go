package fetch

import (
	"errors"
	"testing"

	"github.com/rkt/rkt/common/acimanifest"
	"github.com/rkt/rkt/stage0/trust/trusttest"
	"github.com/rkt/rkt/store/storetest"
)

// TestIsolatorWithoutValueIsRefusedNotACrash: the appc schema panics on an
// isolator without a value, and the manifest is read before the signature
// is checked, so an image signed by nobody trusted used to stop rkt. Fetch
// and Check refuse it instead (found by podspec's FuzzImageManifest).
func TestIsolatorWithoutValueIsRefusedNotACrash(t *testing.T) {
	manifest := []byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/evil",` +
		`"app":{"exec":["/bin/sh"],"user":"0","group":"0","isolators":[{"name":"resource/memory"}]}}`)
	aci := storetest.BuildACIWithManifest(t, manifest)
	stranger := trusttest.NewKey(t, "Nobody Trusted <nobody@example.com>")
	e := newEnv(t)
	path := e.writeFile("evil.aci", aci)
	e.writeFile("evil.aci.asc", stranger.Sign(t, aci))

	if _, err := e.fetcher(nil, PullUpdate).Fetch(bg(), path, ""); !errors.Is(err, acimanifest.ErrIsolatorWithoutValue) {
		t.Errorf("Fetch: %v, want ErrIsolatorWithoutValue", err)
	}
	if _, err := Check(bg(), CheckOptions{Keystore: e.ks}, path, ""); !errors.Is(err, acimanifest.ErrIsolatorWithoutValue) {
		t.Errorf("Check: %v, want ErrIsolatorWithoutValue", err)
	}
}
