// Package metadata is the appc metadata service (`rkt metadata-service`)
// and the client that registers pods with it (`rkt run --mds-register`).
//
// The service listens in two places:
//
//	unix socket (DefaultSocketPath, mode 0600: root only)   registration
//	    PUT    /pods/<uuid>   JSON registration -> JSON {"port": N}
//	    DELETE /pods/<uuid>
//	TCP (DefaultPort, every address)                       the pods
//	    /<token>/acMetadata/v1/pod/{annotations,manifest,uuid}        GET
//	    /<token>/acMetadata/v1/pod/hmac/{sign,verify}                 POST form
//	    /<token>/acMetadata/v1/apps/<app>/annotations                 GET
//	    /<token>/acMetadata/v1/apps/<app>/image/{manifest,id}         GET
//
// A pod reaches its metadata at AC_METADATA_URL = http://<host>:<port>/<token>.
// The token (at least 128 random bits, chosen at registration and kept in
// the pod dir's mds-token file) is the pod's identity: a request without a
// registered token is refused (401) and never learns whether a pod exists.
// Requests must carry `Metadata-Flavor: AppContainer`, as the appc
// validator's do, so that a pod's app cannot be tricked by a redirect or a
// forged link into sending its token somewhere it did not mean to.
// A registration may name the pod's IP; then only requests from that
// address are served for the pod.
//
// Invariants: registrations live in memory only (a restarted service knows
// no pod; pods register again when they start); the HMAC key is random per
// service process, so signatures verify only within one service's life; the
// HMAC covers the signing pod's canonical UUID followed by the content, so
// a signature cannot be replayed as another pod's.
package metadata

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
)

// Defaults of `rkt metadata-service`, as in rkt.
const (
	DefaultPort       = 18112
	DefaultSocketPath = "/run/rkt/metadata-svc.sock"
)

// Content types the appc specification (and its ACE validator) require.
const (
	contentJSON = "application/json"
	contentText = "text/plain; charset=us-ascii"
)

// pathBase follows the token in every pod-side URL.
const pathBase = "/acMetadata/v1/"

// maxBody bounds registration and form bodies.
const maxBody = 4 << 20

// pod is one registered pod as the service serves it.
type pod struct {
	uuid     string
	token    string
	ip       net.IP
	manifest []byte // served as is by /pod/manifest
	pm       *schema.PodManifest
	images   map[string][]byte // app name -> image manifest JSON
	imageMs  map[string]*schema.ImageManifest
}

// Service holds the registered pods and the HMAC key. Its zero value is
// not usable; make one with NewService.
type Service struct {
	port int
	log  *slog.Logger
	key  []byte

	mu      sync.RWMutex
	byUUID  map[string]*pod
	byToken map[string]*pod
}

// NewService makes a service that tells registrants it serves pods on
// port. log may be nil.
func NewService(port int, log *slog.Logger) (*Service, error) {
	key := make([]byte, sha512.Size)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("making the HMAC key: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{port: port, log: log, key: key, byUUID: map[string]*pod{}, byToken: map[string]*pod{}}, nil
}

// Pods returns the UUIDs of the registered pods.
func (s *Service) Pods() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.byUUID))
	for u := range s.byUUID {
		out = append(out, u)
	}
	return out
}

// registration is the body of PUT /pods/<uuid>.
type registration struct {
	Token    string                     `json:"token"`
	Manifest json.RawMessage            `json:"manifest"`
	Images   map[string]json.RawMessage `json:"images"`
	IP       string                     `json:"ip,omitempty"`
}

// registered is the answer to a registration.
type registered struct {
	Port int `json:"port"`
}

// add checks and records a registration.
func (s *Service) add(uuid string, r *registration) error {
	u, err := types.NewUUID(uuid)
	if err != nil || u.String() != uuid {
		return fmt.Errorf("%w: UUID %q is not canonical", ErrBadRegistration, uuid)
	}
	if err := validToken(r.Token); err != nil {
		return err
	}
	p := &pod{uuid: uuid, token: r.Token, manifest: r.Manifest, images: map[string][]byte{}, imageMs: map[string]*schema.ImageManifest{}}
	if r.IP != "" {
		if p.ip = net.ParseIP(r.IP); p.ip == nil {
			return fmt.Errorf("%w: IP %q", ErrBadRegistration, r.IP)
		}
	}
	p.pm = &schema.PodManifest{}
	if err := json.Unmarshal(r.Manifest, p.pm); err != nil {
		return fmt.Errorf("%w: pod manifest: %w", ErrBadRegistration, err)
	}
	for _, app := range p.pm.Apps {
		name := app.Name.String()
		raw, ok := r.Images[name]
		if !ok {
			return fmt.Errorf("%w: no image manifest for app %q", ErrBadRegistration, name)
		}
		im := &schema.ImageManifest{}
		if err := json.Unmarshal(raw, im); err != nil {
			return fmt.Errorf("%w: image manifest of app %q: %w", ErrBadRegistration, name, err)
		}
		p.images[name], p.imageMs[name] = raw, im
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byUUID[uuid]; ok {
		return fmt.Errorf("%w: pod %s", ErrAlreadyRegistered, uuid)
	}
	if _, ok := s.byToken[r.Token]; ok {
		return fmt.Errorf("%w: token in use", ErrAlreadyRegistered)
	}
	s.byUUID[uuid], s.byToken[r.Token] = p, p
	return nil
}

// remove forgets a pod.
func (s *Service) remove(uuid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byUUID[uuid]
	if !ok {
		return fmt.Errorf("%w: pod %s", ErrNotRegistered, uuid)
	}
	delete(s.byUUID, uuid)
	delete(s.byToken, p.token)
	return nil
}

// validToken accepts URL-path-safe tokens of 32 to 256 characters.
func validToken(t string) error {
	if len(t) < 32 || len(t) > 256 {
		return fmt.Errorf("%w: token must have 32 to 256 characters", ErrBadRegistration)
	}
	for _, c := range t {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return fmt.Errorf("%w: token may only hold letters, digits, - and _", ErrBadRegistration)
		}
	}
	return nil
}

// RegistrationHandler serves the unix socket side: PUT and DELETE
// /pods/<uuid>. It must only be reachable by root.
func (s *Service) RegistrationHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uuid, ok := strings.CutPrefix(r.URL.Path, "/pods/")
		if !ok || uuid == "" || strings.Contains(uuid, "/") {
			http.NotFound(w, r)
			return
		}
		switch r.Method {
		case http.MethodPut:
			var reg registration
			if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&reg); err != nil {
				http.Error(w, "decoding the registration: "+err.Error(), http.StatusBadRequest)
				return
			}
			if err := s.add(uuid, &reg); err != nil {
				code := http.StatusBadRequest
				if errors.Is(err, ErrAlreadyRegistered) {
					code = http.StatusConflict
				}
				http.Error(w, err.Error(), code)
				return
			}
			s.log.Info("pod registered", "uuid", uuid)
			w.Header().Set("Content-Type", contentJSON)
			_ = json.NewEncoder(w).Encode(registered{Port: s.port})
		case http.MethodDelete:
			if err := s.remove(uuid); err != nil {
				http.Error(w, err.Error(), http.StatusNotFound)
				return
			}
			s.log.Info("pod unregistered", "uuid", uuid)
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Allow", "PUT, DELETE")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

// Handler serves the pods' side: /<token>/acMetadata/v1/...
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(s.serveMetadata)
}

func (s *Service) serveMetadata(w http.ResponseWriter, r *http.Request) {
	token, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.mu.RLock()
	p := s.byToken[token]
	s.mu.RUnlock()
	if p == nil || !p.allows(r.RemoteAddr) {
		http.Error(w, "unknown pod", http.StatusUnauthorized)
		return
	}
	if r.Header.Get("Metadata-Flavor") != "AppContainer" {
		http.Error(w, "missing header Metadata-Flavor: AppContainer", http.StatusForbidden)
		return
	}
	rest, ok = strings.CutPrefix("/"+rest, pathBase)
	if !ok {
		http.NotFound(w, r)
		return
	}
	rest = strings.TrimSuffix(rest, "/")
	if app, sub, ok := strings.Cut(strings.TrimPrefix(rest, "apps/"), "/"); ok && strings.HasPrefix(rest, "apps/") {
		s.serveApp(w, r, p, app, sub)
		return
	}
	switch rest {
	case "pod/manifest":
		if get(w, r) {
			reply(w, contentJSON, p.manifest)
		}
	case "pod/annotations":
		if get(w, r) {
			replyJSON(w, p.pm.Annotations)
		}
	case "pod/uuid":
		if get(w, r) {
			reply(w, contentText, []byte(p.uuid))
		}
	case "pod/hmac/sign":
		if post(w, r) {
			s.sign(w, r, p)
		}
	case "pod/hmac/verify":
		if post(w, r) {
			s.verify(w, r)
		}
	default:
		http.NotFound(w, r)
	}
}

func (s *Service) serveApp(w http.ResponseWriter, r *http.Request, p *pod, app, sub string) {
	ra := p.pm.Apps.Get(types.ACName(app))
	if ra == nil {
		http.Error(w, "no such app in the pod", http.StatusNotFound)
		return
	}
	if !get(w, r) {
		return
	}
	switch sub {
	case "annotations":
		// The image's annotations, overridden by the pod manifest's.
		annots := append(types.Annotations(nil), p.imageMs[app].Annotations...)
		for _, a := range ra.Annotations {
			annots.Set(a.Name, a.Value)
		}
		if annots == nil {
			annots = types.Annotations{}
		}
		replyJSON(w, annots)
	case "image/manifest":
		reply(w, contentJSON, p.images[app])
	case "image/id":
		reply(w, contentText, []byte(ra.Image.ID.String()))
	default:
		http.NotFound(w, r)
	}
}

// mac is the pod identity: HMAC-SHA512 over the canonical UUID and content.
func (s *Service) mac(uuid string, content []byte) []byte {
	h := hmac.New(sha512.New, s.key)
	h.Write([]byte(uuid))
	h.Write(content)
	return h.Sum(nil)
}

func (s *Service) sign(w http.ResponseWriter, r *http.Request, p *pod) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "parsing the form: "+err.Error(), http.StatusBadRequest)
		return
	}
	content, ok := r.PostForm["content"]
	if !ok {
		http.Error(w, "missing content", http.StatusBadRequest)
		return
	}
	sig := s.mac(p.uuid, []byte(content[0]))
	reply(w, contentText, []byte(base64.StdEncoding.EncodeToString(sig)))
}

func (s *Service) verify(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "parsing the form: "+err.Error(), http.StatusBadRequest)
		return
	}
	f := r.PostForm
	u, err := types.NewUUID(f.Get("uuid"))
	if err != nil {
		http.Error(w, "invalid uuid", http.StatusBadRequest)
		return
	}
	sig, err := base64.StdEncoding.DecodeString(f.Get("signature"))
	if err != nil {
		http.Error(w, "signature is not base64", http.StatusBadRequest)
		return
	}
	if !f.Has("content") || !hmac.Equal(sig, s.mac(u.String(), []byte(f.Get("content")))) {
		w.Header().Set("Content-Type", contentText)
		w.WriteHeader(http.StatusForbidden)
		return
	}
	reply(w, contentText, nil)
}

// allows reports whether a request from remoteAddr may read p.
func (p *pod) allows(remoteAddr string) bool {
	if p.ip == nil {
		return true
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.Equal(p.ip)
}

func get(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return false
	}
	return true
}

func post(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return false
	}
	return true
}

func reply(w http.ResponseWriter, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func replyJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding: "+err.Error(), http.StatusInternalServerError)
		return
	}
	reply(w, contentJSON, b)
}
