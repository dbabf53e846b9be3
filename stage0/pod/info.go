package pod

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rkt/rkt/common/netspec"
	"github.com/rkt/rkt/common/podlayout"
	"golang.org/x/sys/unix"
)

// Info is what `rkt status` and `rkt list` show of a pod.
type Info struct {
	UUID    string
	State   State
	Created time.Time // mtime of pod-created
	Started time.Time // mtime of pid or ppid; zero when the pod never started
	// GCMarked is when gc moved the pod to exited-garbage or garbage (the
	// ctime of its directory, as rkt read it); zero in the other states.
	GCMarked time.Time
	Pid      int // the pod's PID 1 (nspawn) or app (fly); 0 when unknown or not running
	AppExit  map[string]int
	Apps     []AppInfo // in pod manifest order; nil when the manifest is not written yet
	// Networks are the networks the pod joined, from <pod>/net-info.json
	// (written by the stage1 when it sets the networks up, removed by gc):
	// empty for host networking, before the networks are set up, after
	// they are torn down, and when the file cannot be read.
	Networks []NetInfo
}

// AppInfo is one app of the pod manifest.
type AppInfo struct {
	Name      string
	ImageName string
	ImageID   string // sha512-<64 hex>
	ExitCode  *int   // nil while the app has not exited
}

// NetInfo is one network the pod is attached to.
type NetInfo struct {
	Name   string // the network's name (default, a net.d name)
	IfName string // the pod's interface (eth0, ...)
	IP     string // the pod's address; "" while the network is being added
	Mask   string // dotted, as rkt wrote it
	Args   string // CNI_ARGS as given
}

// Info derives the pod's status from the disk.
func (p *Pod) Info() (*Info, error) {
	if err := p.Refresh(); err != nil {
		return nil, err
	}
	in := &Info{UUID: p.UUID, State: p.State, AppExit: map[string]int{}}
	in.Created = p.created()
	for _, f := range []string{podlayout.PidFile, podlayout.PpidFile} {
		if fi, err := os.Stat(filepath.Join(p.Path, f)); err == nil {
			in.Started = fi.ModTime()
			break
		}
	}
	if p.State == ExitedGarbage || p.State == Garbage {
		var st unix.Stat_t
		if err := unix.Lstat(p.Path, &st); err == nil {
			in.GCMarked = time.Unix(st.Ctim.Unix())
		}
	}
	if p.State == Running {
		pid, err := p.Pid()
		switch {
		case err == nil:
			in.Pid = pid
		case errors.Is(err, ErrNoPid):
		default:
			return nil, err
		}
	}
	m, _, err := p.Manifest()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if m != nil {
		for _, ra := range m.Apps {
			ai := AppInfo{Name: ra.Name.String(), ImageID: ra.Image.ID.String()}
			if ra.Image.Name != nil {
				ai.ImageName = ra.Image.Name.String()
			}
			if podlayout.ValidAppName(ai.Name) == nil {
				if code, err := podlayout.ReadAppStatus(podlayout.AppStatusPath(p.Path, ai.Name)); err == nil {
					c := code
					ai.ExitCode = &c
					in.AppExit[ai.Name] = code
				}
			}
			in.Apps = append(in.Apps, ai)
		}
	}
	in.Networks = p.networks()
	return in, nil
}

// networks reads net-info.json through stage1/network's reader (stage0
// parses the file only; it never sets a network up). A file that cannot
// be read shows as no network: status must still work for such a pod.
func (p *Pod) networks() []NetInfo {
	info, err := netspec.Load(p.Path)
	if err != nil {
		return nil
	}
	out := make([]NetInfo, 0, len(info.Nets))
	for _, n := range info.Nets {
		out = append(out, NetInfo{Name: n.Name, IfName: n.IfName, IP: n.IP, Mask: n.Mask, Args: n.Args})
	}
	return out
}

// Pid is the pod's process for enter, stop and status: the content of
// the pid file, or else the only child of the process named by ppid that
// runs in a PID namespace of its own (the pod's PID 1). While the nspawn
// process is still starting, its only child is a helper in its own PID
// namespace, which is not the pod: ErrNoPid until the pod's PID 1 exists,
// as while stage1 has written neither file.
func (p *Pod) Pid() (int, error) {
	if pid, err := p.readPidFile(podlayout.PidFile); err == nil || !errors.Is(err, ErrNoPid) {
		return pid, err
	}
	ppid, err := p.readPidFile(podlayout.PpidFile)
	if err != nil {
		return 0, err
	}
	kids, err := children(ppid)
	if err != nil {
		return 0, fmt.Errorf("finding the pid of pod %s: %w", p.UUID, err)
	}
	// A child that has exited and is not yet reaped is no pod: nspawn's
	// first child exits once it has started the pod's PID 1, which is
	// then reparented to nspawn; for a moment both may be listed.
	kids = slices.DeleteFunc(kids, exited)
	switch len(kids) {
	case 0:
		return 0, fmt.Errorf("pod %s: process %d has no child: %w", p.UUID, ppid, ErrNoPid)
	case 1:
		same, err := samePidNS(ppid, kids[0])
		if err != nil {
			return 0, fmt.Errorf("pod %s: %w: %w", p.UUID, err, ErrNoPid)
		}
		if same {
			return 0, fmt.Errorf("pod %s: the child of process %d is not the pod's PID 1 yet: %w", p.UUID, ppid, ErrNoPid)
		}
		return kids[0], nil
	default:
		return 0, fmt.Errorf("finding the pid of pod %s: process %d has %d children, want one", p.UUID, ppid, len(kids))
	}
}

// samePidNS reports whether two processes are in the same PID namespace.
// A process that has exited meanwhile is an error. When the namespaces
// cannot be read for want of rights (a caller that is not root), it says
// no: the only child is then taken for the pod, as it cannot be told
// from nspawn's helper.
func samePidNS(a, b int) (bool, error) {
	na, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", a))
	if errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("process %d has exited", a)
	}
	if err != nil {
		return false, nil
	}
	nb, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", b))
	if errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("process %d has exited", b)
	}
	if err != nil {
		return false, nil
	}
	return na == nb, nil
}

// exited reports whether process pid is gone or a zombie (state Z or X in
// /proc/<pid>/stat, which anyone may read).
func exited(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// "pid (comm) state ...": comm may hold spaces and parens.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	st := s[i+2]
	return st == 'Z' || st == 'X'
}

func (p *Pod) readPidFile(name string) (int, error) {
	data, err := p.readFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("pod %s: %w", p.UUID, ErrNoPid)
	}
	if err != nil {
		return 0, fmt.Errorf("reading %s of pod %s: %w", name, p.UUID, err)
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return 0, fmt.Errorf("pod %s: empty %s: %w", p.UUID, name, ErrNoPid)
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("reading %s of pod %s: bad pid %q", name, p.UUID, s)
	}
	return pid, nil
}

// children lists the child processes of pid, from
// /proc/<pid>/task/*/children, or by scanning /proc when the kernel lacks
// that file.
func children(pid int) ([]int, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("process %d is gone: %w", pid, ErrNoPid)
	}
	if err != nil {
		return nil, err
	}
	var kids []int
	for _, t := range tasks {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(fmt.Sprintf("/proc/%d/task/%s", pid, t.Name())); serr == nil {
				return scanChildren(pid)
			}
			continue // the thread exited
		}
		if err != nil {
			return nil, err
		}
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				kids = append(kids, n)
			}
		}
	}
	return kids, nil
}

func scanChildren(pid int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var kids []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ...": comm may hold spaces and parens.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) >= 2 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, n)
		}
	}
	return kids, nil
}

// pollInterval is how often the Wait functions look at the disk.
const pollInterval = 50 * time.Millisecond

// WaitExited returns once the pod has run and exited (or was removed), or
// with ctx's error.
func (p *Pod) WaitExited(ctx context.Context) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		err := p.Refresh()
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if p.State.Exited() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for pod %s to exit: %w", p.UUID, ctx.Err())
		case <-t.C:
		}
	}
}

// WaitReady returns once the pod's supervisor reports every app started
// (rkt/supervisor-status -> ready), ErrExitedBeforeReady if the pod exits
// first, or ctx's error.
func (p *Pod) WaitReady(ctx context.Context) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		err := p.Refresh()
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("waiting for pod %s: %w", p.UUID, ErrExitedBeforeReady)
		}
		if err != nil {
			return err
		}
		if p.State == Running {
			if target, err := os.Readlink(podlayout.SupervisorStatusPath(p.Path)); err == nil && target == podlayout.SupervisorReady {
				return nil
			}
		}
		if p.State.Exited() || p.State == Garbage || p.State == Deleting || p.State == AbortedPrepare {
			return fmt.Errorf("waiting for pod %s: %w", p.UUID, ErrExitedBeforeReady)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for pod %s to be ready: %w", p.UUID, ctx.Err())
		case <-t.C:
		}
	}
}
