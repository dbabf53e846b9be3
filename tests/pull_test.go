package tests

import (
	"testing"
)

func TestFetchPullPolicies(t *testing.T) {
	t.Parallel()
	e, im, sign := signedSetup(t)
	e.site.discover(e.prefix())
	e.site.publish(im, im.aci, sign(im.aci))
	aciPath := e.site.imagePath(im.name, "1.0", "aci")
	ref := im.name + ":1.0"

	// never, with an empty store: refused without any request, naming the policy.
	_, stderr := e.fails(254, "fetch", "--pull-policy=never", ref)
	assertMentions(t, "pull-policy=never miss", stderr, im.name)
	if n := e.site.requests(aciPath); n != 0 {
		t.Errorf("--pull-policy=never downloaded the image %d times", n)
	}
	e.assertStore()

	// new, with an empty store: fetched.
	if got := e.fetchID("--pull-policy=new", ref); got != im.short() {
		t.Fatalf("--pull-policy=new printed %s", got)
	}
	if n := e.site.fullResponses(aciPath); n != 1 {
		t.Fatalf("image downloaded %d times, want 1", n)
	}

	// new, with the image stored: no request at all.
	if got := e.fetchID("--pull-policy=new", ref); got != im.short() {
		t.Errorf("--pull-policy=new printed %s", got)
	}
	if n := e.site.requests(aciPath); n != 1 {
		t.Errorf("--pull-policy=new asked the server again (%d requests)", n)
	}

	// never, with the image stored: from the store; --store-only is its alias.
	for _, flag := range []string{"--pull-policy=never", "--store-only"} {
		if got := e.fetchID(flag, ref); got != im.short() {
			t.Errorf("%s printed %s", flag, got)
		}
	}
	if n := e.site.requests(aciPath); n != 1 {
		t.Errorf("--pull-policy=never asked the server (%d requests)", n)
	}

	// update (the default): asks again, the ETag matches, nothing is downloaded.
	if got := e.fetchID(ref); got != im.short() {
		t.Errorf("update fetch printed %s", got)
	}
	if n := e.site.requests(aciPath); n != 2 {
		t.Errorf("update fetch made %d requests in total, want 2 (one conditional)", n)
	}
	if n := e.site.fullResponses(aciPath); n != 1 {
		t.Errorf("the image body was sent %d times, want 1: the ETag was not reused", n)
	}
	e.assertStore(im.id)

	// An unknown policy is bad usage.
	_, stderr = e.fails(254, "fetch", "--pull-policy=sometimes", ref)
	assertMentions(t, "bad pull policy", stderr, "sometimes")
}

func TestFetchURLETag(t *testing.T) {
	t.Parallel()
	e, im, sign := signedSetup(t)
	e.site.serveFile("app.aci", im.aci)
	e.site.serveFile("app.aci.asc", sign(im.aci))
	u := e.site.url("app.aci")

	first := e.fetchID(u)
	second := e.fetchID(u)
	if first != im.short() || second != first {
		t.Errorf("fetches printed %s then %s, want %s twice", first, second, im.short())
	}
	if n := e.site.fullResponses("app.aci"); n != 1 {
		t.Errorf("image body sent %d times, want 1 (ETag reuse)", n)
	}

	// A changed image behind the same URL is downloaded again.
	im2 := e.newImage("app", fileOf("etc/new", "new\n"))
	e.site.serveFile("app.aci", im2.aci)
	e.site.serveFile("app.aci.asc", sign(im2.aci))
	if got := e.fetchID(u); got != im2.short() {
		t.Errorf("fetch of the changed URL printed %s, want %s", got, im2.short())
	}
	e.assertStore(im.id, im2.id)
}
