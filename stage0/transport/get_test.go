package transport

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/key":
			w.Write([]byte("0123456789"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, ctx := srv.Client(), context.Background()

	if data, err := Get(ctx, c, srv.URL+"/key", 10); err != nil || string(data) != "0123456789" {
		t.Fatalf("Get at the limit = %q, %v", data, err)
	}
	if _, err := Get(ctx, c, srv.URL+"/key", 9); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Get over the limit: err = %v, want ErrTooLarge", err)
	}
	var se *StatusError
	if _, err := Get(ctx, c, srv.URL+"/nope", 10); !errors.As(err, &se) || se.Code != 404 || !strings.Contains(err.Error(), "404 Not Found") {
		t.Fatalf("Get of a missing resource: err = %v, want a 404 StatusError", err)
	}
}
