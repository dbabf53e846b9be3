package trust

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadKeySource(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "key.asc")
	big := filepath.Join(dir, "big.asc")
	if err := os.WriteFile(small, []byte("key data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, make([]byte, MaxKeySize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/key.asc":
			w.Write([]byte("served key"))
		case "/big.asc":
			w.Write(make([]byte, MaxKeySize+1))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx, c := context.Background(), srv.Client()

	for _, src := range []string{small, "file://" + small} {
		if got, err := ReadKeySource(ctx, c, src); err != nil || string(got) != "key data" {
			t.Errorf("ReadKeySource(%q) = %q, %v", src, got, err)
		}
	}
	if got, err := ReadKeySource(ctx, c, srv.URL+"/key.asc"); err != nil || string(got) != "served key" {
		t.Errorf("over https: %q, %v", got, err)
	}
	for _, src := range []string{big, srv.URL + "/big.asc"} {
		if _, err := ReadKeySource(ctx, c, src); !errors.Is(err, ErrKeyTooLarge) {
			t.Errorf("ReadKeySource(%q) = %v, want ErrKeyTooLarge", src, err)
		}
	}
	if _, err := ReadKeySource(ctx, c, srv.URL+"/absent.asc"); err == nil || !strings.Contains(err.Error(), "downloading key: 404") {
		t.Errorf("a missing key: %v, want the HTTP status", err)
	}
	if _, err := ReadKeySource(ctx, c, filepath.Join(dir, "absent")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}
