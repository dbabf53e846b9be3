package network

import "github.com/rkt/rkt/common/netspec"

// The --net grammar and the recorded network state are common/netspec's;
// this package uses them under the names of its own API.
type (
	NetRequest = netspec.NetRequest
	Info       = netspec.Info
	NetInfo    = netspec.NetInfo
	DNS        = netspec.DNS
)

const (
	NetDefault           = netspec.NetDefault
	NetDefaultRestricted = netspec.NetDefaultRestricted
	NetHost              = netspec.NetHost
	NetNone              = netspec.NetNone
	NetAll               = netspec.NetAll
	NetInfoFile          = netspec.NetInfoFile
	NetNSFile            = netspec.NetNSFile
)

// ParseNetFlag is netspec.ParseNetFlag.
func ParseNetFlag(values []string) ([]NetRequest, error) { return netspec.ParseNetFlag(values) }

// ValidNetName is netspec.ValidNetName.
func ValidNetName(name string) error { return netspec.ValidNetName(name) }

// IsHost is netspec.IsHost.
func IsHost(reqs []NetRequest) bool { return netspec.IsHost(reqs) }

// Load is netspec.Load.
func Load(podDir string) (*Info, error) { return netspec.Load(podDir) }
