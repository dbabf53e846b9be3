package v1alpha

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
)

// rkt130Descriptor is the SHA-256 of rkt 1.30's api/v1alpha/api.proto as
// protoc compiles it (a FileDescriptorProto named api.proto, without
// source info), marshalled deterministically: names, numbers, types and
// enum values, and nothing of the comments.
const rkt130Descriptor = "b2ad92ea79eaad77fe8198b29de413fe77fa4e96bbb60b50cca10f1c16674248"

// TestWireContract: the compiled api.proto is rkt 1.30's in every name,
// number, type and value, less the go_package option. A renamed or
// renumbered field, a changed enum value or a new message fails it; a
// changed comment does not.
func TestWireContract(t *testing.T) {
	fd := protodesc.ToFileDescriptorProto(File_api_v1alpha_api_proto)
	fd.Name = proto.String("api.proto")
	fd.Options = nil // go_package only
	fd.SourceCodeInfo = nil
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(fd)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != rkt130Descriptor {
		t.Errorf("api.proto compiles to descriptor %s, rkt 1.30's is %s: a name, number or value differs from rkt 1.30's wire contract", got, rkt130Descriptor)
	}
}
