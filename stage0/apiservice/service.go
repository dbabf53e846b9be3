// Package apiservice is rkt's read-only v1alpha gRPC service (rkt 1.30's
// `rkt api-service`): it lists and describes the pods and images of one
// data directory for clients such as monitoring agents and kubelets.
//
// Invariants: the service reads and never writes. Every answer is derived
// from the disk when it is asked for (the pod directories through
// stage0/pod, the store through store.OpenReadOnly), as `rkt list` and
// `rkt image list` derive theirs, so the service keeps no state that a
// restart would lose and needs no more than read access to the data
// directory (a member of group rkt can run it). It is served by the
// rkt-api-service binary, which `rkt api-service` execs, so that the gRPC
// libraries' start-up cost stays out of every other rkt command.
package apiservice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/appc/spec/schema"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/rkt/rkt/api/v1alpha"
	"github.com/rkt/rkt/stage0/pod"
	"github.com/rkt/rkt/stage0/version"
	"github.com/rkt/rkt/store"
)

// APIVersion is the newest API version the service serves, as rkt 1.30
// reported it.
const APIVersion = "1.0.0-alpha"

// DefaultListen is rkt 1.30's default --listen address.
const DefaultListen = "localhost:15441"

// Flags are the global flags the service was started with, as GetInfo
// reports them. DataDir is also where it reads pods and images.
type Flags struct {
	DataDir            string
	SystemConfigDir    string
	LocalConfigDir     string
	UserConfigDir      string
	InsecureOptions    string
	TrustKeysFromHTTPS bool
}

// Service implements v1alpha.PublicAPIServer over one data directory.
type Service struct {
	v1alpha.UnimplementedPublicAPIServer
	flags Flags
	log   *slog.Logger
	// stopping is closed when the service stops: open streams end then.
	stopping <-chan struct{}
}

var _ v1alpha.PublicAPIServer = (*Service)(nil)

// New is the service over flags.DataDir; log receives what a request
// could not read (a pod removed under it, a broken manifest).
// Streams end when stopping is closed (nil: never).
func New(flags Flags, log *slog.Logger, stopping <-chan struct{}) *Service {
	return &Service{flags: flags, log: log, stopping: stopping}
}

// GetInfo describes rkt, appc, the API and the service's flags.
func (s *Service) GetInfo(context.Context, *v1alpha.GetInfoRequest) (*v1alpha.GetInfoResponse, error) {
	return &v1alpha.GetInfoResponse{Info: &v1alpha.Info{
		RktVersion:  version.Version,
		AppcVersion: schema.AppContainerVersion.String(),
		ApiVersion:  APIVersion,
		GlobalFlags: &v1alpha.GlobalFlags{
			Dir:                s.flags.DataDir,
			SystemConfigDir:    s.flags.SystemConfigDir,
			LocalConfigDir:     s.flags.LocalConfigDir,
			UserConfigDir:      s.flags.UserConfigDir,
			InsecureFlags:      s.flags.InsecureOptions,
			TrustKeysFromHttps: s.flags.TrustKeysFromHTTPS,
		},
	}}, nil
}

// ListPods lists the pods matching any of the request's filters, oldest
// first. A pod that cannot be read whole is listed with what could be
// read; one removed during the listing is left out.
func (s *Service) ListPods(ctx context.Context, req *v1alpha.ListPodsRequest) (*v1alpha.ListPodsResponse, error) {
	pods, err := pod.List(s.flags.DataDir)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "listing pods: %v", err)
	}
	resp := &v1alpha.ListPodsResponse{}
	for _, p := range pods {
		if err := ctx.Err(); err != nil {
			return nil, status.FromContextError(err).Err()
		}
		v, err := describePod(p)
		if errors.Is(err, pod.ErrNotFound) {
			continue
		}
		if err != nil {
			s.log.Warn(err.Error())
		}
		if !matchesAnyPodFilter(v, req.GetFilters()) {
			continue
		}
		if !req.GetDetail() {
			v.Manifest = nil
		}
		resp.Pods = append(resp.Pods, v)
	}
	return resp, nil
}

// InspectPod describes one pod, named by its UUID (or a unique prefix),
// with its manifest.
func (s *Service) InspectPod(ctx context.Context, req *v1alpha.InspectPodRequest) (*v1alpha.InspectPodResponse, error) {
	p, err := pod.Get(s.flags.DataDir, req.GetId())
	if err != nil {
		return nil, podError(err)
	}
	v, err := describePod(p)
	if errors.Is(err, pod.ErrNotFound) {
		return nil, podError(err)
	}
	if err != nil {
		s.log.Warn(err.Error())
	}
	return &v1alpha.InspectPodResponse{Pod: v}, nil
}

// errStatus is an unexpected error while doing what, as a gRPC status.
func errStatus(err error, what string) error {
	return status.Errorf(codes.Internal, "%s: %v", what, err)
}

// podError is a pod lookup's error with its gRPC code.
func podError(err error) error {
	code := codes.Internal
	switch {
	case errors.Is(err, pod.ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, pod.ErrInvalidUUID), errors.Is(err, pod.ErrAmbiguous):
		code = codes.InvalidArgument
	}
	return status.Error(code, err.Error())
}

// ListImages lists the store's images matching any of the request's
// filters, in image ID order. The layer images of OCI images are left
// out, as `rkt image list` leaves them out without --all.
func (s *Service) ListImages(ctx context.Context, req *v1alpha.ListImagesRequest) (*v1alpha.ListImagesResponse, error) {
	st := store.OpenReadOnly(s.flags.DataDir)
	defer st.Close()
	rows, err := st.Images()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "listing images: %v", err)
	}
	resp := &v1alpha.ListImagesResponse{}
	for _, row := range rows {
		if err := ctx.Err(); err != nil {
			return nil, status.FromContextError(err).Err()
		}
		if row.Layer {
			continue // part of the images that depend on it, as in image list
		}
		img, err := describeImage(st, row)
		if errors.Is(err, store.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			s.log.Warn(err.Error())
			continue
		}
		if !matchesAnyImageFilter(img, req.GetFilters()) {
			continue
		}
		if !req.GetDetail() {
			img.Manifest = nil
		}
		resp.Images = append(resp.Images, img)
	}
	return resp, nil
}

// InspectImage describes one image, named by its ID (a unique prefix of
// at least sha512- and two hex digits will do), with its manifest.
func (s *Service) InspectImage(ctx context.Context, req *v1alpha.InspectImageRequest) (*v1alpha.InspectImageResponse, error) {
	st := store.OpenReadOnly(s.flags.DataDir)
	defer st.Close()
	key, err := st.ResolveKey(req.GetId())
	if err != nil {
		return nil, imageError(err)
	}
	row, err := st.Image(key)
	if err != nil {
		return nil, imageError(err)
	}
	img, err := describeImage(st, row)
	if err != nil {
		return nil, imageError(err)
	}
	return &v1alpha.InspectImageResponse{Image: img}, nil
}

// imageError is a store lookup's error with its gRPC code.
func imageError(err error) error {
	code := codes.Internal
	switch {
	case errors.Is(err, store.ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, store.ErrInvalidKey), errors.Is(err, store.ErrAmbiguous):
		code = codes.InvalidArgument
	}
	return status.Error(code, fmt.Sprint(err))
}
