package cgroups

import (
	"fmt"
	"strconv"
	"strings"
)

// Any stands for every major or every minor number in a Device.
const Any = -1

// Device is one device access rule: Type 'c' (character), 'b' (block) or
// 'a' (all), Major and Minor numbers or Any, Access a subset of "rwm"
// (read, write, mknod).
type Device struct {
	Type   rune
	Major  int64
	Minor  int64
	Access string
}

// String is the rule in the devices.allow syntax: "c 1:3 rwm", "c 136:* rwm".
func (d Device) String() string {
	num := func(v int64) string {
		if v == Any {
			return "*"
		}
		return strconv.FormatInt(v, 10)
	}
	if d.Type == 'a' {
		return "a *:* " + d.Access
	}
	return fmt.Sprintf("%c %s:%s %s", d.Type, num(d.Major), num(d.Minor), d.Access)
}

func (d Device) validate() error {
	if d.Type != 'c' && d.Type != 'b' && d.Type != 'a' {
		return fmt.Errorf("%w: device type %q is not c, b or a", ErrInvalidResources, d.Type)
	}
	if d.Major < Any || d.Minor < Any {
		return fmt.Errorf("%w: device %s has a negative number", ErrInvalidResources, d)
	}
	if d.Access == "" || strings.Trim(d.Access, "rwm") != "" {
		return fmt.Errorf("%w: device access %q is not a subset of rwm", ErrInvalidResources, d.Access)
	}
	return nil
}

// DefaultDevices are the devices every app may use: the ones a pod's /dev
// holds (null, zero, full, random, urandom, tty, console, ptmx and the
// pseudo-terminals), plus mknod (not access) of any device node, as runc
// allows. /dev/net/tun and /dev/fuse are not included; a volume that needs
// a device adds its rule to the app's list.
var DefaultDevices = []Device{
	{Type: 'c', Major: Any, Minor: Any, Access: "m"},
	{Type: 'b', Major: Any, Minor: Any, Access: "m"},
	{Type: 'c', Major: 1, Minor: 3, Access: "rwm"},     // /dev/null
	{Type: 'c', Major: 1, Minor: 5, Access: "rwm"},     // /dev/zero
	{Type: 'c', Major: 1, Minor: 7, Access: "rwm"},     // /dev/full
	{Type: 'c', Major: 1, Minor: 8, Access: "rwm"},     // /dev/random
	{Type: 'c', Major: 1, Minor: 9, Access: "rwm"},     // /dev/urandom
	{Type: 'c', Major: 5, Minor: 0, Access: "rwm"},     // /dev/tty
	{Type: 'c', Major: 5, Minor: 1, Access: "rwm"},     // /dev/console
	{Type: 'c', Major: 5, Minor: 2, Access: "rwm"},     // /dev/ptmx
	{Type: 'c', Major: 136, Minor: Any, Access: "rwm"}, // /dev/pts/*
}

// WithDefaultDevices returns DefaultDevices followed by extra (the devices
// of an app's declared volumes), as a new slice.
func WithDefaultDevices(extra ...Device) []Device {
	out := make([]Device, 0, len(DefaultDevices)+len(extra))
	out = append(out, DefaultDevices...)
	return append(out, extra...)
}
