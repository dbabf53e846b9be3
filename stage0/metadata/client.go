package metadata

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"

	"github.com/appc/spec/schema"
)

// Registration is what a pod gives the service when it registers.
type Registration struct {
	// UUID is the pod's canonical UUID.
	UUID string
	// Token is the pod's secret; empty: Register makes one (NewToken).
	Token string
	// Manifest is the pod manifest, as written to the pod dir.
	Manifest *schema.PodManifest
	// Images holds the image manifest of every app, by app name.
	Images map[string]*schema.ImageManifest
	// IP, when set, is the only address the pod's requests may come from.
	IP string
	// Host is the address the pod reaches the service at (default
	// 127.0.0.1: the host's loopback, right for pods on the host network).
	Host string
}

// Registered is the outcome of a registration.
type Registered struct {
	// Token is the pod's token, to keep in the pod dir (mds-token).
	Token string
	// URL is AC_METADATA_URL for the pod's apps: http://<host>:<port>/<token>.
	URL string
}

// NewToken returns 256 random bits, hex encoded.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a metadata token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Register registers a pod with the metadata service listening on
// socketPath (DefaultSocketPath when empty). ErrServiceUnavailable when
// nothing listens there.
func Register(ctx context.Context, socketPath string, reg Registration) (*Registered, error) {
	if reg.Manifest == nil {
		return nil, fmt.Errorf("registering pod %s with the metadata service: %w: no pod manifest", reg.UUID, ErrBadRegistration)
	}
	token := reg.Token
	if token == "" {
		var err error
		if token, err = NewToken(); err != nil {
			return nil, err
		}
	}
	body := registration{Token: token, Images: map[string]json.RawMessage{}, IP: reg.IP}
	var err error
	if body.Manifest, err = json.Marshal(reg.Manifest); err != nil {
		return nil, fmt.Errorf("registering pod %s with the metadata service: encoding the pod manifest: %w", reg.UUID, err)
	}
	for app, im := range reg.Images {
		if body.Images[app], err = json.Marshal(im); err != nil {
			return nil, fmt.Errorf("registering pod %s with the metadata service: encoding the image manifest of %q: %w", reg.UUID, app, err)
		}
	}
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	resp, err := call(ctx, socketPath, http.MethodPut, reg.UUID, data)
	if err != nil {
		return nil, fmt.Errorf("registering pod %s with the metadata service: %w", reg.UUID, err)
	}
	var out registered
	if err := json.Unmarshal(resp, &out); err != nil || out.Port <= 0 {
		return nil, fmt.Errorf("registering pod %s with the metadata service: unexpected answer %q", reg.UUID, resp)
	}
	host := reg.Host
	if host == "" {
		host = "127.0.0.1"
	}
	return &Registered{Token: token, URL: "http://" + net.JoinHostPort(host, strconv.Itoa(out.Port)) + "/" + token}, nil
}

// Unregister removes a pod from the service. A pod that is not registered,
// or a service that is not running, is not an error: there is nothing to
// undo.
func Unregister(ctx context.Context, socketPath, uuid string) error {
	_, err := call(ctx, socketPath, http.MethodDelete, uuid, nil)
	if err == nil || errors.Is(err, ErrNotRegistered) || errors.Is(err, ErrServiceUnavailable) {
		return nil
	}
	return fmt.Errorf("unregistering pod %s from the metadata service: %w", uuid, err)
}

// call makes one request on the registration socket.
func call(ctx context.Context, socketPath, method, uuid string, body []byte) ([]byte, error) {
	if socketPath == "" {
		socketPath = DefaultSocketPath
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketPath)
		},
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, method, "http://metadata-service/pods/"+uuid, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentJSON)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w: %s", ErrServiceUnavailable, socketPath)
		}
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, err
	}
	msg := strings.TrimSpace(string(data))
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNoContent:
		return data, nil
	case http.StatusConflict:
		return nil, fmt.Errorf("%w (%s)", ErrAlreadyRegistered, msg)
	case http.StatusNotFound:
		return nil, fmt.Errorf("%w (%s)", ErrNotRegistered, msg)
	case http.StatusBadRequest:
		return nil, fmt.Errorf("%w (%s)", ErrBadRegistration, msg)
	}
	return nil, fmt.Errorf("metadata service answered %s: %s", resp.Status, msg)
}
