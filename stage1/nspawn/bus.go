package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// The system bus and machined, as nspawn --register=yes talks to them.
const (
	defaultSystemBus = "/run/dbus/system_bus_socket"
	machinedName     = "org.freedesktop.machine1"
	machinedPath     = "/org/freedesktop/machine1"
	busProbeTimeout  = time.Second
)

// machinedReachable reports whether systemd-machined answers on the system
// bus: it connects, authenticates and pings org.freedesktop.machine1 (which
// bus-activates machined where it is installed). Any failure means "no":
// nspawn then runs with --register=no.
func machinedReachable() bool {
	return pingBusName(systemBusPath(), machinedName, machinedPath) == nil
}

func systemBusPath() string {
	addr := os.Getenv("DBUS_SYSTEM_BUS_ADDRESS")
	for _, a := range strings.Split(addr, ";") {
		if rest, ok := strings.CutPrefix(a, "unix:"); ok {
			for _, kv := range strings.Split(rest, ",") {
				if p, ok := strings.CutPrefix(kv, "path="); ok {
					return p
				}
			}
		}
	}
	return defaultSystemBus
}

// pingBusName calls org.freedesktop.DBus.Peer.Ping on dest at path over
// the bus socket at sock, with a minimal D-Bus client: EXTERNAL
// authentication, Hello, Ping, and a wait for the Ping's reply.
func pingBusName(sock, dest, path string) error {
	conn, err := net.DialTimeout("unix", sock, busProbeTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(busProbeTimeout)); err != nil {
		return err
	}
	uid := hex.EncodeToString([]byte(strconv.Itoa(os.Getuid())))
	if _, err := io.WriteString(conn, "\x00AUTH EXTERNAL "+uid+"\r\n"); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "OK ") {
		return fmt.Errorf("bus authentication refused: %q", strings.TrimSpace(line))
	}
	if _, err := io.WriteString(conn, "BEGIN\r\n"); err != nil {
		return err
	}
	hello := busMethodCall(1, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello")
	ping := busMethodCall(2, dest, path, "org.freedesktop.DBus.Peer", "Ping")
	if _, err := conn.Write(append(hello, ping...)); err != nil {
		return err
	}
	for {
		typ, replyTo, err := readBusMessage(r)
		if err != nil {
			return err
		}
		if replyTo != 2 {
			continue
		}
		switch typ {
		case 2: // method return
			return nil
		case 3: // error
			return errors.New("machined did not answer")
		}
	}
}

// busMethodCall marshals a little-endian METHOD_CALL without a body.
func busMethodCall(serial uint32, dest, path, iface, member string) []byte {
	var fields bytes.Buffer
	field := func(code byte, sig byte, val string) {
		pad(&fields, 8)
		fields.Write([]byte{code, 1, sig, 0})
		pad(&fields, 4)
		binary.Write(&fields, binary.LittleEndian, uint32(len(val)))
		fields.WriteString(val)
		fields.WriteByte(0)
	}
	field(1, 'o', path)
	field(2, 's', iface)
	field(3, 's', member)
	field(6, 's', dest)
	var msg bytes.Buffer
	msg.Write([]byte{'l', 1, 0, 1})
	binary.Write(&msg, binary.LittleEndian, uint32(0)) // body length
	binary.Write(&msg, binary.LittleEndian, serial)
	binary.Write(&msg, binary.LittleEndian, uint32(fields.Len()))
	msg.Write(fields.Bytes()) // fields start at offset 16: aligned
	pad(&msg, 8)
	return msg.Bytes()
}

func pad(b *bytes.Buffer, n int) {
	for b.Len()%n != 0 {
		b.WriteByte(0)
	}
}

// readBusMessage reads one message and returns its type and its
// REPLY_SERIAL header field (0 when it has none).
func readBusMessage(r *bufio.Reader) (typ byte, replyTo uint32, err error) {
	var fixed [16]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return 0, 0, err
	}
	var order binary.ByteOrder = binary.LittleEndian
	if fixed[0] == 'B' {
		order = binary.BigEndian
	}
	bodyLen := order.Uint32(fixed[4:8])
	fieldsLen := order.Uint32(fixed[12:16])
	if fieldsLen > 1<<16 || bodyLen > 1<<20 {
		return 0, 0, errors.New("bus message too large")
	}
	headerLen := 16 + int(fieldsLen)
	total := (headerLen+7)&^7 + int(bodyLen)
	rest := make([]byte, total-16)
	if _, err := io.ReadFull(r, rest); err != nil {
		return 0, 0, err
	}
	// Walk the header fields, a(yv), for REPLY_SERIAL (5, "u").
	f := rest[:fieldsLen]
	off := 0 // offsets are relative to message offset 16, which is 8-aligned
	for off < len(f) {
		off = (off + 7) &^ 7
		if off+3 > len(f) {
			break
		}
		code, sigLen := f[off], int(f[off+1])
		if off+2+sigLen+1 > len(f) || sigLen != 1 {
			break
		}
		sig := f[off+2]
		off += 2 + sigLen + 1
		switch sig {
		case 'u':
			off = (off + 3) &^ 3
			if off+4 > len(f) {
				return fixed[1], replyTo, nil
			}
			if code == 5 {
				replyTo = order.Uint32(f[off:])
			}
			off += 4
		case 's', 'o':
			off = (off + 3) &^ 3
			if off+4 > len(f) {
				return fixed[1], replyTo, nil
			}
			off += 4 + int(order.Uint32(f[off:])) + 1
		case 'g':
			if off >= len(f) {
				return fixed[1], replyTo, nil
			}
			off += 1 + int(f[off]) + 1
		default:
			return fixed[1], replyTo, nil
		}
	}
	return fixed[1], replyTo, nil
}
