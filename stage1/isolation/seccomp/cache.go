package seccomp

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rkt/rkt/common/atomicfile"
	"golang.org/x/sys/unix"
)

// Encoded filter layout (all integers in the machine's byte order, like the
// kernel's struct sock_filter):
//
//	magic    [8]byte  "RKTBPF01"
//	count    uint32   number of instructions
//	checksum [32]byte SHA-256 of the instructions that follow
//	insns    count x {code uint16, jt uint8, jf uint8, k uint32}
var magic = [8]byte{'R', 'K', 'T', 'B', 'P', 'F', '0', '1'}

const headerLen = 8 + 4 + 32

// Encode serialises a filter for the cache or for handing it to another
// process (the exec stub).
func Encode(filter []unix.SockFilter) []byte {
	body := make([]byte, 8*len(filter))
	for i, f := range filter {
		b := body[8*i:]
		binary.NativeEndian.PutUint16(b, f.Code)
		b[2], b[3] = f.Jt, f.Jf
		binary.NativeEndian.PutUint32(b[4:], f.K)
	}
	sum := sha256.Sum256(body)
	out := make([]byte, 0, headerLen+len(body))
	out = append(out, magic[:]...)
	out = binary.NativeEndian.AppendUint32(out, uint32(len(filter)))
	out = append(out, sum[:]...)
	return append(out, body...)
}

// Decode reverses Encode; ErrCorruptCache when the data is not a whole,
// intact encoded filter.
func Decode(data []byte) ([]unix.SockFilter, error) {
	if len(data) < headerLen || !bytes.Equal(data[:8], magic[:]) {
		return nil, fmt.Errorf("%w: bad header", ErrCorruptCache)
	}
	n := int(binary.NativeEndian.Uint32(data[8:]))
	body := data[headerLen:]
	if n == 0 || n > unix.BPF_MAXINSNS || len(body) != 8*n {
		return nil, fmt.Errorf("%w: %d bytes for %d instructions", ErrCorruptCache, len(body), n)
	}
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], data[12:headerLen]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorruptCache)
	}
	out := make([]unix.SockFilter, n)
	for i := range out {
		b := body[8*i:]
		out[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:])}
	}
	return out, nil
}

// Cache keeps compiled filters in Dir, one file per profile named
// "<Profile.Key()>.bpf", written atomically. Entries are never stale: the
// key covers the profile and the compiler version. Any number of processes
// may share a Dir.
type Cache struct {
	Dir string
}

// Path is the file that holds the filter of p.
func (c Cache) Path(p Profile) string {
	return filepath.Join(c.Dir, p.Key()+".bpf")
}

// Load returns the filter of p from the cache, compiling and storing it on
// a miss (hit is then false). A corrupt entry is recompiled and replaced.
func (c Cache) Load(p Profile) (filter []unix.SockFilter, hit bool, err error) {
	path := c.Path(p)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if f, derr := Decode(data); derr == nil {
			return f, true, nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, false, fmt.Errorf("reading cached seccomp filter: %w", err)
	}
	f, err := Compile(p)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, false, fmt.Errorf("creating seccomp cache: %w", err)
	}
	if err := atomicfile.WriteFile(path, Encode(f), 0o644); err != nil {
		return nil, false, fmt.Errorf("caching seccomp filter: %w", err)
	}
	return f, false, nil
}
