//go:build libseccomp && cgo

package libseccomp

/*
#cgo LDFLAGS: -lseccomp
#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Filter is a libseccomp filter context for the native architecture only.
type Filter struct {
	ctx C.scmp_filter_ctx
}

// New makes a filter whose unmatched syscalls get defaultAction and whose
// calls under any other architecture get badArchAction (SECCOMP_RET_*
// values), laid out as a binary tree as the project's compiler does.
func New(defaultAction, badArchAction uint32) (*Filter, error) {
	ctx := C.seccomp_init(C.uint32_t(defaultAction))
	if ctx == nil {
		return nil, fmt.Errorf("seccomp_init(%#x) failed", defaultAction)
	}
	f := &Filter{ctx: ctx}
	if err := f.attr(C.SCMP_FLTATR_ACT_BADARCH, badArchAction); err != nil {
		f.Release()
		return nil, err
	}
	// 2: binary tree sorted by syscall number (libseccomp >= 2.5).
	if err := f.attr(C.SCMP_FLTATR_CTL_OPTIMIZE, 2); err != nil {
		f.Release()
		return nil, err
	}
	return f, nil
}

func (f *Filter) attr(a C.enum_scmp_filter_attr, v uint32) error {
	if rc := C.seccomp_attr_set(f.ctx, a, C.uint32_t(v)); rc < 0 {
		return fmt.Errorf("seccomp_attr_set(%d, %d): %w", a, v, unix.Errno(-rc))
	}
	return nil
}

// Resolve returns libseccomp's number of a syscall on the native
// architecture; ok is false when libseccomp does not know it there.
func Resolve(name string) (nr int, ok bool) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	n := int(C.seccomp_syscall_resolve_name(cs))
	return n, n >= 0
}

// Add gives syscall number nr the action.
func (f *Filter) Add(nr int, action uint32) error {
	if rc := C.seccomp_rule_add_array(f.ctx, C.uint32_t(action), C.int(nr), 0, nil); rc < 0 {
		return fmt.Errorf("seccomp_rule_add(%d, %#x): %w", nr, action, unix.Errno(-rc))
	}
	return nil
}

// Export returns the filter as libseccomp generates it for the kernel.
func (f *Filter) Export() ([]unix.SockFilter, error) {
	fd, err := unix.MemfdCreate("libseccomp-export", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("exporting the libseccomp filter: %w", err)
	}
	file := os.NewFile(uintptr(fd), "libseccomp-export")
	defer file.Close()
	if rc := C.seccomp_export_bpf(f.ctx, C.int(fd)); rc < 0 {
		return nil, fmt.Errorf("exporting the libseccomp filter: %w", unix.Errno(-rc))
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("exporting the libseccomp filter: %w", err)
	}
	raw, err := io.ReadAll(file)
	if err != nil {
		return nil, fmt.Errorf("exporting the libseccomp filter: %w", err)
	}
	if len(raw)%8 != 0 {
		return nil, fmt.Errorf("exporting the libseccomp filter: %d bytes is not a whole number of instructions", len(raw))
	}
	prog := make([]unix.SockFilter, len(raw)/8)
	for i := range prog {
		b := raw[i*8:]
		prog[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b[0:]),
			Jt:   b[2],
			Jf:   b[3],
			K:    binary.NativeEndian.Uint32(b[4:]),
		}
	}
	return prog, nil
}

// Release frees the filter.
func (f *Filter) Release() {
	if f.ctx != nil {
		C.seccomp_release(f.ctx)
		f.ctx = nil
	}
}
