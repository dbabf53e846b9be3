// Package netspec is what stage0 and the network code of stage1 share
// about a pod's networks: the --net grammar (what a pod asks for) and the
// state a pod records in its directory (net-info.json and netns: what it
// got), read by list and status. The networks themselves are set up and
// torn down by stage1/network; keeping this part apart keeps CNI, netlink
// and the plugins' libraries out of the rkt binary.
package netspec
