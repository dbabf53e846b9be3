package ocisig

import (
	"log"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"io"
)

func nopLogger() *log.Logger { return log.New(io.Discard, "", 0) }

func emptyIndex() v1.ImageIndex { return empty.Index }
