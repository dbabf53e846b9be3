package metadata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
)

const (
	podUUID   = "6a4e4b2c-1f3d-4c5e-9a8b-7c6d5e4f3a2b"
	otherUUID = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
	imageID   = "sha512-" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// service starts Serve on a temp socket and a free port and returns the
// socket path and the pods' base URL (http://127.0.0.1:port).
func service(t *testing.T) (sock, base string) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), "run", "metadata-svc.sock")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, Options{Port: 0, SocketPath: sock, Ready: func(a net.Addr) { ready <- a }}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if _, err := os.Lstat(sock); !os.IsNotExist(err) {
			t.Errorf("socket left behind after Serve returned: %v", err)
		}
	})
	select {
	case a := <-ready:
		return sock, fmt.Sprintf("http://127.0.0.1:%d", a.(*net.TCPAddr).Port)
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("service not ready after 10s")
	}
	return "", ""
}

func mustName(t *testing.T, s string) types.ACIdentifier {
	t.Helper()
	n, err := types.NewACIdentifier(s)
	if err != nil {
		t.Fatal(err)
	}
	return *n
}

// podWithApps is a pod of two apps: "main" with its own annotations over
// the image's, "side" with none.
func podWithApps(t *testing.T, podAnnots bool) (*schema.PodManifest, map[string]*schema.ImageManifest) {
	t.Helper()
	h, err := types.NewHash(imageID)
	if err != nil {
		t.Fatal(err)
	}
	pm := schema.BlankPodManifest()
	if podAnnots {
		pm.Annotations.Set(mustName(t, "ip-address"), "10.1.2.3")
	}
	images := map[string]*schema.ImageManifest{}
	for _, app := range []string{"main", "side"} {
		im := schema.BlankImageManifest()
		im.Name = mustName(t, "example.com/"+app)
		ra := schema.RuntimeApp{Name: types.ACName(app), Image: schema.RuntimeImage{Name: &im.Name, ID: *h}}
		if app == "main" {
			im.Annotations.Set(mustName(t, "authors"), "image authors")
			im.Annotations.Set(mustName(t, "created"), "2020-01-01T00:00:00Z")
			ra.Annotations.Set(mustName(t, "authors"), "pod authors")
		}
		pm.Apps = append(pm.Apps, ra)
		images[app] = im
	}
	return pm, images
}

type response struct {
	code        int
	contentType string
	body        string
}

func do(t *testing.T, method, u string, form url.Values, flavor bool) response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if flavor {
		req.Header.Set("Metadata-Flavor", "AppContainer")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}
}

func TestEndpointsAsTheValidatorReadsThem(t *testing.T) {
	for _, podAnnots := range []bool{true, false} {
		t.Run(map[bool]string{true: "pod annotations", false: "no pod annotations"}[podAnnots], func(t *testing.T) {
			sock, base := service(t)
			pm, images := podWithApps(t, podAnnots)
			reg, err := Register(context.Background(), sock, Registration{UUID: podUUID, Manifest: pm, Images: images})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(reg.URL, base+"/") || !strings.HasSuffix(reg.URL, "/"+reg.Token) || len(reg.Token) < 32 {
				t.Fatalf("URL %q token %q, want %s/<token>", reg.URL, reg.Token, base)
			}
			get := func(path, wantType string) string {
				t.Helper()
				r := do(t, "GET", reg.URL+"/acMetadata/v1"+path, nil, true)
				if r.code != 200 || r.contentType != wantType {
					t.Fatalf("GET %s: %d %q %q, want 200 %q", path, r.code, r.contentType, r.body, wantType)
				}
				return r.body
			}

			// The validator reads the manifest, then compares every other
			// answer with what it says.
			var got schema.PodManifest
			if err := json.Unmarshal([]byte(get("/pod/manifest", "application/json")), &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Apps) != 2 || got.Apps[0].Image.ID.String() != imageID {
				t.Fatalf("served manifest %+v", got)
			}
			if u := get("/pod/uuid", "text/plain; charset=us-ascii"); u != podUUID {
				t.Errorf("uuid %q, want %q", u, podUUID)
			}
			var annots types.Annotations
			if err := json.Unmarshal([]byte(get("/pod/annotations/", "application/json")), &annots); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(annots, got.Annotations) {
				t.Errorf("pod annotations %#v, manifest says %#v", annots, got.Annotations)
			}

			var im schema.ImageManifest
			if err := json.Unmarshal([]byte(get("/apps/main/image/manifest", "application/json")), &im); err != nil {
				t.Fatal(err)
			}
			if im.Name.String() != "example.com/main" {
				t.Errorf("image manifest of main names %q", im.Name)
			}
			if id := get("/apps/side/image/id", "text/plain; charset=us-ascii"); id != imageID {
				t.Errorf("image id %q", id)
			}
			var appAnnots types.Annotations
			if err := json.Unmarshal([]byte(get("/apps/main/annotations/", "application/json")), &appAnnots); err != nil {
				t.Fatal(err)
			}
			if v, _ := appAnnots.Get("authors"); v != "pod authors" {
				t.Errorf("authors = %q, want the pod manifest's override", v)
			}
			if v, _ := appAnnots.Get("created"); v != "2020-01-01T00:00:00Z" || len(appAnnots) != 2 {
				t.Errorf("app annotations %v, want the image's merged with the pod's", appAnnots)
			}
			if a := get("/apps/side/annotations", "application/json"); a != "[]" {
				t.Errorf("annotations of an app without any: %q", a)
			}
			if r := do(t, "GET", reg.URL+"/acMetadata/v1/apps/nosuch/image/id", nil, true); r.code != 404 {
				t.Errorf("unknown app: %d", r.code)
			}
		})
	}
}

func TestHMACSignVerify(t *testing.T) {
	sock, _ := service(t)
	pm, images := podWithApps(t, false)
	a, err := Register(context.Background(), sock, Registration{UUID: podUUID, Manifest: pm, Images: images})
	if err != nil {
		t.Fatal(err)
	}
	pm2, images2 := podWithApps(t, false)
	b, err := Register(context.Background(), sock, Registration{UUID: otherUUID, Manifest: pm2, Images: images2})
	if err != nil {
		t.Fatal(err)
	}
	const text = "Old MacDonald Had A Farm"
	sig := do(t, "POST", a.URL+"/acMetadata/v1/pod/hmac/sign", url.Values{"content": {text}}, true)
	if sig.code != 200 || sig.contentType != "text/plain; charset=us-ascii" || sig.body == "" {
		t.Fatalf("sign: %+v", sig)
	}
	verify := func(content, uuid, signature string) response {
		return do(t, "POST", b.URL+"/acMetadata/v1/pod/hmac/verify",
			url.Values{"content": {content}, "uuid": {uuid}, "signature": {signature}}, true)
	}
	// Pod b checks pod a's signature.
	if r := verify(text, podUUID, sig.body); r.code != 200 || r.contentType != "text/plain; charset=us-ascii" {
		t.Errorf("verify of a good signature: %+v", r)
	}
	if r := verify(text+"!", podUUID, sig.body); r.code != 403 {
		t.Errorf("verify of altered content: %d, want 403", r.code)
	}
	if r := verify(text, otherUUID, sig.body); r.code != 403 {
		t.Errorf("verify claiming another pod signed: %d, want 403", r.code)
	}
	if r := verify(text, "not-a-uuid", sig.body); r.code != 400 {
		t.Errorf("verify with a bad uuid: %d, want 400", r.code)
	}
	if r := do(t, "GET", a.URL+"/acMetadata/v1/pod/hmac/sign", nil, true); r.code != 405 {
		t.Errorf("GET sign: %d, want 405", r.code)
	}
}

func TestTokensAndRegistration(t *testing.T) {
	sock, base := service(t)
	ctx := context.Background()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", fi.Mode().Perm())
	}
	pm, images := podWithApps(t, false)
	reg, err := Register(ctx, sock, Registration{UUID: podUUID, Manifest: pm, Images: images})
	if err != nil {
		t.Fatal(err)
	}
	if r := do(t, "GET", base+"/wrongtoken0123456789abcdef0123456789/acMetadata/v1/pod/uuid", nil, true); r.code != 401 {
		t.Errorf("unknown token: %d, want 401", r.code)
	}
	if r := do(t, "GET", reg.URL+"/acMetadata/v1/pod/uuid", nil, false); r.code != 403 {
		t.Errorf("no Metadata-Flavor header: %d, want 403", r.code)
	}
	if _, err := Register(ctx, sock, Registration{UUID: podUUID, Manifest: pm, Images: images}); !errors.Is(err, ErrAlreadyRegistered) {
		t.Errorf("second registration of a UUID: %v, want ErrAlreadyRegistered", err)
	}
	if _, err := Register(ctx, sock, Registration{UUID: otherUUID, Token: reg.Token, Manifest: pm, Images: images}); !errors.Is(err, ErrAlreadyRegistered) {
		t.Errorf("registration reusing a token: %v, want ErrAlreadyRegistered", err)
	}
	if _, err := Register(ctx, sock, Registration{UUID: otherUUID, Token: "short", Manifest: pm, Images: images}); !errors.Is(err, ErrBadRegistration) {
		t.Errorf("short token: %v, want ErrBadRegistration", err)
	}
	if _, err := Register(ctx, sock, Registration{UUID: otherUUID, Manifest: pm, Images: map[string]*schema.ImageManifest{"main": images["main"]}}); !errors.Is(err, ErrBadRegistration) {
		t.Errorf("app without an image manifest: %v, want ErrBadRegistration", err)
	}
	if _, err := Register(ctx, sock, Registration{UUID: "../../x", Manifest: pm, Images: images}); err == nil {
		t.Error("registration with a path as UUID accepted")
	}

	// Only requests from the registered IP are served.
	pinned, err := Register(ctx, sock, Registration{UUID: otherUUID, Manifest: pm, Images: images, IP: "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	if r := do(t, "GET", pinned.URL+"/acMetadata/v1/pod/uuid", nil, true); r.code != 401 {
		t.Errorf("request from another address than the registered IP: %d, want 401", r.code)
	}

	if err := Unregister(ctx, sock, podUUID); err != nil {
		t.Fatal(err)
	}
	if r := do(t, "GET", reg.URL+"/acMetadata/v1/pod/uuid", nil, true); r.code != 401 {
		t.Errorf("token of an unregistered pod: %d, want 401", r.code)
	}
	if err := Unregister(ctx, sock, podUUID); err != nil {
		t.Errorf("unregistering twice: %v", err)
	}
}

func TestNoService(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	pm, images := podWithApps(t, false)
	_, err := Register(context.Background(), sock, Registration{UUID: podUUID, Manifest: pm, Images: images})
	if !errors.Is(err, ErrServiceUnavailable) {
		t.Errorf("Register without a service: %v, want ErrServiceUnavailable", err)
	}
	if err := Unregister(context.Background(), sock, podUUID); err != nil {
		t.Errorf("Unregister without a service: %v", err)
	}
}

func TestSocketTakeover(t *testing.T) {
	sock, _ := service(t)
	err := Serve(context.Background(), Options{SocketPath: sock})
	if err == nil || !strings.Contains(err.Error(), "another metadata service is running") {
		t.Errorf("second service on a live socket: %v", err)
	}

	// A socket left by a killed service is replaced.
	stale := filepath.Join(t.TempDir(), "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, Options{SocketPath: stale, Ready: func(a net.Addr) { ready <- a }}) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Serve over a stale socket: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}
