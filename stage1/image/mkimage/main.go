// Command mkimage writes a stage1 image:
//
//	go run ./stage1/image/mkimage -flavor nspawn -version 1.31.0 -o build/bin/stage1-nspawn.aci
//
// It compiles the flavor's binaries (static, CGO_ENABLED=0) unless they are
// given prebuilt with -nspawn-bin, -supervisor-bin or -fly-bin.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/rkt/rkt/stage1/image"
)

func main() {
	var opts image.Options
	var out, goflags string
	var nspawnBin, supervisorBin, flyBin string
	flag.StringVar(&opts.Flavor, "flavor", image.FlavorNspawn, "stage1 flavor: nspawn or fly")
	flag.StringVar(&opts.Version, "version", "0.0.0", "the image's version label")
	flag.StringVar(&out, "o", "", "output file (required)")
	flag.StringVar(&goflags, "goflags", "-trimpath", "space-separated extra arguments to go build")
	flag.StringVar(&nspawnBin, "nspawn-bin", "", "prebuilt "+image.BinNspawn)
	flag.StringVar(&supervisorBin, "supervisor-bin", "", "prebuilt "+image.BinSupervisor)
	flag.StringVar(&flyBin, "fly-bin", "", "prebuilt "+image.BinFly)
	flag.Parse()
	if out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: mkimage -flavor nspawn|fly -version V -o FILE")
		os.Exit(2)
	}
	opts.Binaries = map[string]string{
		image.BinNspawn: nspawnBin, image.BinSupervisor: supervisorBin, image.BinFly: flyBin,
	}
	opts.GoFlags = strings.Fields(goflags)
	if err := image.Write(context.Background(), opts, out); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}
