package fetch

import (
	"testing"

	"github.com/rkt/rkt/stage0/trust/trusttest"
	"github.com/rkt/rkt/store/storetest"
)

// A fetch whose dependency chain breaks stores nothing: not the image asked
// for, and not the dependencies it fetched on the way.
func TestDependencyFailureStoresNothing(t *testing.T) {
	key := trusttest.NewKey(t, "Example Signer")
	srv := newServer(t)
	labels := defaultLabels()
	// app -> base -> missing (never published).
	base := storetest.BuildACIWithManifest(t, storetest.Manifest("127.0.0.1/example/base", labels, depOn(t, "127.0.0.1/example/missing")),
		storetest.File{Name: "base.txt", Body: []byte("from base")})
	srv.discoverable("127.0.0.1/example", "127.0.0.1/example/base", "latest", base, key.Sign(t, base))
	app := storetest.BuildACIWithManifest(t, storetest.Manifest("127.0.0.1/example/app", labels, depOn(t, "127.0.0.1/example/base")),
		storetest.File{Name: "app.txt", Body: []byte("from app")})
	e := newEnv(t)
	e.trust("127.0.0.1/example", key)
	path := e.writeFile("app.aci", app)
	e.writeFile("app.aci.asc", key.Sign(t, app))

	f := e.fetcher(srv.client(0, nil), PullUpdate)
	f.DiscoveryPort = srv.port()
	if _, err := f.Fetch(bg(), path, ""); err == nil {
		t.Fatal("Fetch succeeded with a dependency that cannot be found")
	}
	e.assertEmpty()

	// An image that was in the store before the failed fetch stays.
	keep := image(t, "127.0.0.1/example/keep", labels, "kept")
	srv.discoverable("127.0.0.1/example", "127.0.0.1/example/keep", "latest", keep, key.Sign(t, keep))
	keepKey, err := f.Fetch(bg(), "127.0.0.1/example/keep", "")
	if err != nil {
		t.Fatal(err)
	}
	app2 := storetest.BuildACIWithManifest(t, storetest.Manifest("127.0.0.1/example/app2", labels,
		depOn(t, "127.0.0.1/example/keep"), depOn(t, "127.0.0.1/example/missing")))
	path2 := e.writeFile("app2.aci", app2)
	e.writeFile("app2.aci.asc", key.Sign(t, app2))
	if _, err := f.Fetch(bg(), path2, ""); err == nil {
		t.Fatal("Fetch succeeded with a dependency that cannot be found")
	}
	imgs, err := e.store.Images()
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Key != keepKey {
		t.Fatalf("store holds %+v, want only the image stored before, %s", imgs, keepKey)
	}
}
