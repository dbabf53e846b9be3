package cgroups

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On cgroup v2 there is no devices.allow: device access is decided by an
// eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup.
// The program built here is the rule list compiled to straight-line code:
//
//	r2 = ctx->access_type & 0xffff   device type (BPF_DEVCG_DEV_BLOCK/CHAR)
//	r3 = ctx->access_type >> 16      requested access (MKNOD|READ|WRITE)
//	r4 = ctx->major; r5 = ctx->minor
//	for each rule:
//	    if r2 != type goto next        (left out for type 'a')
//	    r1 = r3 & ^access; if r1 != 0 goto next
//	    if r4 != major goto next       (left out for Any)
//	    if r5 != minor goto next       (left out for Any)
//	    return 1                       allow
//	next:
//	return 0                           deny everything else
//
// It is attached with BPF_F_ALLOW_MULTI, so the programs of ancestor
// cgroups still apply: a child can only narrow its parent's access.

// bpf instruction opcodes used by the program.
const (
	opLdxW    = unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W
	opAndK    = unix.BPF_ALU64 | unix.BPF_AND | unix.BPF_K
	opRshK    = unix.BPF_ALU64 | unix.BPF_RSH | unix.BPF_K
	opMovX    = unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_X
	opMovK    = unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_K
	opJneK    = unix.BPF_JMP | unix.BPF_JNE | unix.BPF_K
	opExit    = unix.BPF_JMP | unix.BPF_EXIT
	devAccAll = unix.BPF_DEVCG_ACC_MKNOD | unix.BPF_DEVCG_ACC_READ | unix.BPF_DEVCG_ACC_WRITE
)

type insn struct {
	code     uint8
	dst, src uint8
	off      int16
	imm      int32
}

func (i insn) encode(b []byte) {
	b[0] = i.code
	b[1] = i.dst&0x0f | i.src<<4
	binary.LittleEndian.PutUint16(b[2:], uint16(i.off))
	binary.LittleEndian.PutUint32(b[4:], uint32(i.imm))
}

// deviceProgram compiles rules to the program described above.
func deviceProgram(rules []Device) ([]insn, error) {
	prog := []insn{
		{code: opLdxW, dst: 2, src: 1, off: 0},
		{code: opAndK, dst: 2, imm: 0xffff},
		{code: opLdxW, dst: 3, src: 1, off: 0},
		{code: opRshK, dst: 3, imm: 16},
		{code: opLdxW, dst: 4, src: 1, off: 4},
		{code: opLdxW, dst: 5, src: 1, off: 8},
	}
	for _, r := range rules {
		if err := r.validate(); err != nil {
			return nil, err
		}
		var body []insn // jumps hold -1 until the block's length is known
		switch r.Type {
		case 'c':
			body = append(body, insn{code: opJneK, dst: 2, imm: unix.BPF_DEVCG_DEV_CHAR, off: -1})
		case 'b':
			body = append(body, insn{code: opJneK, dst: 2, imm: unix.BPF_DEVCG_DEV_BLOCK, off: -1})
		}
		var acc int32
		for _, c := range r.Access {
			switch c {
			case 'r':
				acc |= unix.BPF_DEVCG_ACC_READ
			case 'w':
				acc |= unix.BPF_DEVCG_ACC_WRITE
			case 'm':
				acc |= unix.BPF_DEVCG_ACC_MKNOD
			}
		}
		if acc != devAccAll {
			body = append(body,
				insn{code: opMovX, dst: 1, src: 3},
				insn{code: opAndK, dst: 1, imm: ^acc & devAccAll},
				insn{code: opJneK, dst: 1, imm: 0, off: -1})
		}
		if r.Type != 'a' && r.Major != Any {
			body = append(body, insn{code: opJneK, dst: 4, imm: int32(r.Major), off: -1})
		}
		if r.Type != 'a' && r.Minor != Any {
			body = append(body, insn{code: opJneK, dst: 5, imm: int32(r.Minor), off: -1})
		}
		body = append(body, insn{code: opMovK, dst: 0, imm: 1}, insn{code: opExit})
		for i := range body {
			if body[i].off == -1 {
				body[i].off = int16(len(body) - i - 1) // to the first instruction after the block
			}
		}
		prog = append(prog, body...)
	}
	return append(prog, insn{code: opMovK, dst: 0, imm: 0}, insn{code: opExit}), nil
}

// bpfProgLoadAttr is the BPF_PROG_LOAD part of union bpf_attr.
type bpfProgLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              uint64
	license            uint64
	logLevel           uint32
	logSize            uint32
	logBuf             uint64
	kernVersion        uint32
	progFlags          uint32
	progName           [16]byte
	progIfindex        uint32
	expectedAttachType uint32
}

// bpfProgAttachAttr is the BPF_PROG_ATTACH part of union bpf_attr.
type bpfProgAttachAttr struct {
	targetFd     uint32
	attachBpfFd  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBpfFd uint32
}

// loadProgram loads a BPF_PROG_TYPE_CGROUP_DEVICE program; logBuf, when
// not nil, receives the verifier's log.
func loadProgram(code []byte, n int, license, logBuf []byte) (uintptr, error) {
	load := bpfProgLoadAttr{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:  uint32(n),
		insns:    uint64(uintptr(unsafe.Pointer(&code[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	if len(logBuf) > 0 {
		load.logLevel = 1
		load.logSize = uint32(len(logBuf))
		load.logBuf = uint64(uintptr(unsafe.Pointer(&logBuf[0])))
	}
	copy(load.progName[:], "rkt_devices")
	// The verifier gives up with EAGAIN when a signal is pending, and the
	// Go runtime signals its threads (preemption): this thread loads with
	// every signal blocked, which the kernel then keeps pending, and loads
	// again if one came through all the same.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var all, old unix.Sigset_t
	for i := range all.Val {
		all.Val[i] = ^uint64(0)
	}
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &all, &old); err == nil {
		defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	}
	var errno unix.Errno
	for range loadAttempts {
		var fd uintptr
		fd, _, errno = unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&load)), unsafe.Sizeof(load))
		if errno == 0 {
			runtime.KeepAlive(code)
			runtime.KeepAlive(license)
			runtime.KeepAlive(logBuf)
			return fd, nil
		}
		if errno != unix.EAGAIN && errno != unix.EINTR {
			break
		}
	}
	runtime.KeepAlive(code)
	runtime.KeepAlive(license)
	runtime.KeepAlive(logBuf)
	return 0, errno
}

// loadAttempts bounds the loads of a program the verifier interrupted.
const loadAttempts = 10

// attachDeviceFilter loads the program for rules and attaches it to the
// cgroup v2 directory dir.
func attachDeviceFilter(dir string, rules []Device) error {
	prog, err := deviceProgram(rules)
	if err != nil {
		return err
	}
	code := make([]byte, 8*len(prog))
	for i, in := range prog {
		in.encode(code[8*i:])
	}
	license := []byte("Apache-2.0\x00")
	fd, err := loadProgram(code, len(prog), license, nil)
	if err != nil {
		// Load again with the verifier's log, for the error message only.
		logBuf := make([]byte, 64*1024)
		_, _ = loadProgram(code, len(prog), license, logBuf)
		return fmt.Errorf("loading the device filter program: %w (verifier: %s)", err, cString(logBuf))
	}
	defer unix.Close(int(fd))

	cg, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("attaching the device filter: %w", err)
	}
	defer cg.Close()
	attach := bpfProgAttachAttr{
		targetFd:    uint32(cg.Fd()),
		attachBpfFd: uint32(fd),
		attachType:  unix.BPF_CGROUP_DEVICE,
		attachFlags: unix.BPF_F_ALLOW_MULTI,
	}
	if _, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_ATTACH, uintptr(unsafe.Pointer(&attach)), unsafe.Sizeof(attach)); errno != 0 {
		return fmt.Errorf("attaching the device filter to %s: %w", dir, errno)
	}
	return nil
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
