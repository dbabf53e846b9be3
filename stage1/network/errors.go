package network

import (
	"errors"

	"github.com/rkt/rkt/common/netspec"
)

var (
	// ErrUsage marks a --net value that does not parse or names no valid
	// network (netspec.ErrUsage).
	ErrUsage = netspec.ErrUsage
	// ErrUnknownNetwork is returned by Setup for a network name that is
	// neither built in nor configured in net.d (netspec.ErrUnknownNetwork,
	// which stage0's check before a pod exists returns too).
	ErrUnknownNetwork = netspec.ErrUnknownNetwork
	// ErrBadConfig is returned for a net.d file that does not parse.
	ErrBadConfig = errors.New("invalid network configuration")
	// ErrNetNSExists is returned by Setup when the pod's namespace path is
	// already taken (a pod that was set up and never torn down).
	ErrNetNSExists = errors.New("network namespace already exists")
	// ErrNoNetwork is returned by Load for a pod without network state
	// (netspec.ErrNoNetwork).
	ErrNoNetwork = netspec.ErrNoNetwork
)
