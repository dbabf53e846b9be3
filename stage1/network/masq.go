package network

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/flock"
)

// Masquerade of the built-in default network.
//
// The ptp plugin gives every pod a chain of its own (two iptables rules
// and a jump), made and removed by iptables execs at every start and stop.
// The in-process path instead installs one rule set per subnet, shared by
// every pod of the network, and leaves it in place:
//
//	-t nat -A POSTROUTING -s SUBNET -m comment --comment "rkt: masquerade NETWORK" -j RKT-DEFAULT-MASQ
//	-t nat -A RKT-DEFAULT-MASQ -d SUBNET -j RETURN
//	-t nat -A RKT-DEFAULT-MASQ -d 224.0.0.0/4 -j RETURN
//	-t nat -A RKT-DEFAULT-MASQ -j MASQUERADE
//
// which is what the per-pod chains add up to: traffic from the subnet to
// anything but the subnet and multicast leaves with the host's address.
// The first Setup of a boot checks for the jump with one `iptables -C`
// and, when it is missing, installs the set with one `iptables-restore
// --noflush`; it then writes MasqMarker (under /run, so it is gone after
// a reboot, when the rules are too). Later Setups see the marker and run
// nothing. Whoever flushes the nat table by hand must remove the marker
// as well (or call RemoveMasquerade), or pods of the default network
// lose their way out until the next reboot.
const (
	// MasqChain is the nat chain shared by the pods of the default network.
	MasqChain = "RKT-DEFAULT-MASQ"
	// RunDir holds state that lasts until the next reboot.
	RunDir = "/run/rkt"
)

// MasqMarker is the file that records that the rules for network name are
// installed in this boot, in the caller's network namespace. iptables rules
// belong to one namespace, so the marker is keyed by the namespace's cookie
// (SO_NETNS_COOKIE: unique for the boot, unlike the namespace's inode,
// which a new namespace may reuse). Where the kernel has no cookie the
// marker names no namespace and is never trusted (see ensureMasquerade).
func MasqMarker(name string) string {
	suffix := "-unknown-netns"
	if c, err := netnsCookie(); err == nil {
		suffix = fmt.Sprintf("-%d", c)
	}
	return filepath.Join(RunDir, "net-masq-"+name+suffix)
}

// netnsCookie returns the calling thread's network namespace cookie.
func netnsCookie() (uint64, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	v, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	if err != nil {
		return 0, err
	}
	return v, nil
}

func masqComment(name string) string { return "rkt: masquerade " + name }

func masqJump(name, subnet string) []string {
	return []string{"POSTROUTING", "-s", subnet, "-m", "comment", "--comment", masqComment(name), "-j", MasqChain}
}

// ensureMasquerade makes sure the shared masquerade rules for subnet
// exist, cheaply after the first time in a boot (see MasqChain).
func ensureMasquerade(ctx context.Context, name, subnet string) error {
	marker := MasqMarker(name)
	trusted := !strings.HasSuffix(marker, "-unknown-netns")
	if b, err := os.ReadFile(marker); trusted && err == nil && strings.TrimSpace(string(b)) == subnet {
		return nil
	}
	if err := os.MkdirAll(RunDir, 0o755); err != nil {
		return fmt.Errorf("masquerading %s: %w", subnet, err)
	}
	// One installer at a time, or two first pods would add the jump twice.
	lk, err := flock.LockPath(marker+".lock", flock.Exclusive, true, true)
	if err != nil {
		return fmt.Errorf("masquerading %s: locking: %w", subnet, err)
	}
	defer lk.Close()
	if b, err := os.ReadFile(marker); trusted && err == nil && strings.TrimSpace(string(b)) == subnet {
		return nil
	}
	check := append([]string{"-w", "-t", "nat", "-C"}, masqJump(name, subnet)...)
	if err := run(ctx, nil, "iptables", check...); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return fmt.Errorf("masquerading %s: %w", subnet, err)
		}
		// Missing (iptables -C exits 1): install the whole set at once.
		var rules bytes.Buffer
		fmt.Fprintf(&rules, "*nat\n:%s - [0:0]\n", MasqChain)
		fmt.Fprintf(&rules, "-A %s -d %s -j RETURN\n", MasqChain, subnet)
		fmt.Fprintf(&rules, "-A %s -d 224.0.0.0/4 -j RETURN\n", MasqChain)
		fmt.Fprintf(&rules, "-A %s -j MASQUERADE\n", MasqChain)
		fmt.Fprintf(&rules, "-A POSTROUTING -s %s -m comment --comment %q -j %s\n", subnet, masqComment(name), MasqChain)
		rules.WriteString("COMMIT\n")
		if err := run(ctx, &rules, "iptables-restore", "-w", "--noflush"); err != nil {
			return fmt.Errorf("masquerading %s: installing the rules: %w", subnet, err)
		}
	}
	if err := atomicfile.ReplaceFile(marker, []byte(subnet+"\n"), 0o644); err != nil {
		return fmt.Errorf("masquerading %s: writing %s: %w", subnet, marker, err)
	}
	return nil
}

// RemoveMasquerade removes the shared masquerade rules of network name on
// subnet and their marker. Pods of the network that are still running lose
// their way out; the next Setup installs the rules again. Rules that are
// already gone are not an error.
func RemoveMasquerade(ctx context.Context, name, subnet string) error {
	lk, err := flock.LockPath(MasqMarker(name)+".lock", flock.Exclusive, true, true)
	if err != nil {
		return fmt.Errorf("removing the masquerade of %s: locking: %w", subnet, err)
	}
	defer lk.Close()
	if err := os.Remove(MasqMarker(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the masquerade of %s: %w", subnet, err)
	}
	for {
		del := append([]string{"-w", "-t", "nat", "-D"}, masqJump(name, subnet)...)
		if run(ctx, nil, "iptables", del...) != nil {
			break // no (more) jump
		}
	}
	// -X fails while a jump to the chain is left (one added by hand).
	if run(ctx, nil, "iptables", "-w", "-t", "nat", "-F", MasqChain) == nil {
		run(ctx, nil, "iptables", "-w", "-t", "nat", "-X", MasqChain)
	}
	return nil
}

// run runs an iptables command, with stdin when given; its error carries
// what the command printed.
func run(ctx context.Context, stdin *bytes.Buffer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
		}
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}
