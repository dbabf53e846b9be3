// Package v1alpha is rkt's read-only gRPC API, served by `rkt api-service`:
// the PublicAPI service and its messages, generated from api.proto by
// `make proto` and committed.
//
// api.proto is the wire contract of rkt 1.30's v1alpha API: its package,
// service, message, field and enum names, field numbers and enum values
// are rkt 1.30's, so clients written for rkt 1.30 work unchanged
// (TestWireContract guards them). Only the comments are this project's.
package v1alpha
