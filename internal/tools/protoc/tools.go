//go:build tools

// Package protoc pins the protoc plugins that `make proto` runs to
// generate the api/v1alpha stubs. It is a module of its own so that the
// generators' versions are fixed apart from rkt's go.mod; the generated
// code needs only google.golang.org/protobuf and google.golang.org/grpc,
// which rkt's go.mod pins.
package protoc

import (
	_ "google.golang.org/grpc/cmd/protoc-gen-go-grpc"
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
