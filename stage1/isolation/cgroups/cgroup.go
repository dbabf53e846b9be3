package cgroups

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/atomicfile"
)

// PodPrefix starts the name of every pod cgroup: rkt-<uuid>.
const PodPrefix = "rkt-"

// Stage1Leaf is the child of a pod cgroup that holds the stage1 processes
// (systemd-nspawn, the supervisor), so that on cgroup v2 the pod cgroup
// itself holds none and can delegate controllers to the apps' cgroups. It
// is not a valid app name, so no app's cgroup can take it.
const Stage1Leaf = "_stage1"

// PodName is the name of the cgroup of pod uuid.
func PodName(uuid string) string { return PodPrefix + uuid }

// CreatePod creates the cgroup of pod uuid below parent, without limits,
// and its Stage1Leaf child; it returns the pod cgroup. The caller (the
// stage1 run entrypoint on the host) then moves itself into the leaf with
// Enter, so systemd-nspawn and the supervisor start inside the pod, and
// records the pod cgroup with Save for gc.
func CreatePod(parent *Cgroup, uuid string) (*Cgroup, error) {
	pod, err := parent.Child(PodName(uuid))
	if err != nil {
		return nil, fmt.Errorf("creating pod cgroup: %w", err)
	}
	if err := pod.Create(Resources{}); err != nil {
		return nil, err
	}
	leaf, err := pod.Child(Stage1Leaf)
	if err != nil {
		return nil, err
	}
	if err := leaf.Create(Resources{}); err != nil {
		_ = pod.Destroy(context.Background())
		return nil, err
	}
	return pod, nil
}

// Cgroup is one cgroup: a directory in every managed hierarchy. It is only
// a name until Create; its methods touch the file system.
type Cgroup struct {
	h    *Hierarchy        // nil for a Cgroup made by Load: only Destroy, Procs and Dirs are meaningful then
	path map[string]string // hierarchy key -> cgroup path as the process sees it
	dirs map[string]string // hierarchy key -> directory
}

// Self is the calling process's cgroup.
func (h *Hierarchy) Self() *Cgroup {
	c := &Cgroup{h: h, path: map[string]string{}, dirs: map[string]string{}}
	for _, m := range h.mounts {
		p := h.self[m.key]
		c.path[m.key] = path.Clean(p)
		c.dirs[m.key] = m.dirOf(p)
	}
	return c
}

// At is the cgroup at absolute path p in every hierarchy (for example
// "/machine.slice"). p must lie within every hierarchy's mount root.
func (h *Hierarchy) At(p string) (*Cgroup, error) {
	if !path.IsAbs(p) {
		return nil, fmt.Errorf("%w: %q is not an absolute cgroup path", ErrInvalidName, p)
	}
	p = path.Clean(p)
	c := &Cgroup{h: h, path: map[string]string{}, dirs: map[string]string{}}
	for _, m := range h.mounts {
		if !within(p, m.root) {
			return nil, fmt.Errorf("%w: %q is outside the %s hierarchy visible here (%s)", ErrInvalidName, p, m.key, m.root)
		}
		c.path[m.key] = p
		c.dirs[m.key] = m.dirOf(p)
	}
	return c, nil
}

// validName refuses names that are not a single new directory, or that
// the kernel could take for a control file.
func validName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00\n") ||
		strings.HasPrefix(name, "cgroup.") {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	for ctrl := range knownV1 {
		if strings.HasPrefix(name, ctrl+".") {
			return fmt.Errorf("%w: %q looks like a control file", ErrInvalidName, name)
		}
	}
	return nil
}

// Child is the cgroup name below c (not created).
func (c *Cgroup) Child(name string) (*Cgroup, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	n := &Cgroup{h: c.h, path: map[string]string{}, dirs: map[string]string{}}
	for k, p := range c.path {
		n.path[k] = path.Join(p, name)
	}
	for k, d := range c.dirs {
		n.dirs[k] = filepath.Join(d, name)
	}
	return n, nil
}

// Dirs maps each hierarchy (UnifiedKey or the v1 controllers, such as
// "memory" or "cpu,cpuacct") to c's directory in it.
func (c *Cgroup) Dirs() map[string]string {
	out := make(map[string]string, len(c.dirs))
	for k, v := range c.dirs {
		out[k] = v
	}
	return out
}

// Path is c's cgroup path in hierarchy key, as /proc/<pid>/cgroup shows it.
func (c *Cgroup) Path(key string) string { return c.path[key] }

// Create makes c in every managed hierarchy (an existing directory is
// reused) and applies res. On cgroup v2 it first enables the controllers
// res needs in the parent cgroups' cgroup.subtree_control.
func (c *Cgroup) Create(res Resources) (retErr error) {
	sets, err := c.h.settings(res)
	if err != nil {
		return fmt.Errorf("creating cgroup %s: %w", c, err)
	}
	if c.h.mode == Unified {
		if err := c.delegate(sets); err != nil {
			return fmt.Errorf("creating cgroup %s: %w", c, err)
		}
	}
	var made []string
	defer func() {
		if retErr != nil {
			for i := len(made) - 1; i >= 0; i-- {
				_ = unix.Rmdir(made[i])
			}
		}
	}()
	for _, k := range c.keys() {
		d := c.dirs[k]
		if err := os.Mkdir(d, 0o755); err == nil {
			made = append(made, d)
		} else if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("creating cgroup %s: %w", c, err)
		}
	}
	if err := c.apply(sets); err != nil {
		return fmt.Errorf("creating cgroup %s: %w", c, err)
	}
	return nil
}

// Set applies res to an existing cgroup.
func (c *Cgroup) Set(res Resources) error {
	sets, err := c.h.settings(res)
	if err != nil {
		return fmt.Errorf("setting limits of cgroup %s: %w", c, err)
	}
	if c.h.mode == Unified {
		if err := c.delegate(sets); err != nil {
			return fmt.Errorf("setting limits of cgroup %s: %w", c, err)
		}
	}
	if err := c.apply(sets); err != nil {
		return fmt.Errorf("setting limits of cgroup %s: %w", c, err)
	}
	return nil
}

func (c *Cgroup) apply(sets []setting) error {
	for _, s := range sets {
		if s.controller == "devices" && s.file == "" {
			if err := attachDeviceFilter(c.dirs[s.key], s.devices); err != nil {
				return err
			}
			continue
		}
		f := filepath.Join(c.dirs[s.key], s.file)
		if err := writeControl(f, s.value); err != nil {
			return err
		}
	}
	return nil
}

// delegate enables, on cgroup v2, every controller the settings use in the
// subtree_control of each ancestor of c below the mount point.
func (c *Cgroup) delegate(sets []setting) error {
	var m mount
	for _, hm := range c.h.mounts {
		if hm.key == UnifiedKey {
			m = hm
		}
	}
	var need []string
	seen := map[string]bool{}
	for _, s := range sets {
		if s.key == UnifiedKey && s.file != "" && !seen[s.controller] {
			seen[s.controller] = true
			need = append(need, s.controller)
		}
	}
	if len(need) == 0 {
		return nil
	}
	dir := c.dirs[UnifiedKey]
	var chain []string // from the mount point down to c's parent
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		chain = append([]string{p}, chain...)
		if p == m.point || p == "/" || p == "." {
			break
		}
	}
	for _, ctrl := range need {
		for _, p := range chain {
			sub, err := os.ReadFile(filepath.Join(p, "cgroup.subtree_control"))
			if err != nil {
				return &ControllerError{Controller: ctrl, Dir: p, Err: fmt.Errorf("%w: %w", ErrControllerMissing, err)}
			}
			if hasWord(string(sub), ctrl) {
				continue
			}
			avail, err := os.ReadFile(filepath.Join(p, "cgroup.controllers"))
			if err != nil || !hasWord(string(avail), ctrl) {
				return &ControllerError{Controller: ctrl, Dir: p, Err: ErrControllerMissing}
			}
			if err := writeControl(filepath.Join(p, "cgroup.subtree_control"), "+"+ctrl); err != nil {
				if errors.Is(err, unix.EBUSY) {
					return &ControllerError{Controller: ctrl, Dir: p, Err: fmt.Errorf("%w: %w", ErrInternalProcesses, err)}
				}
				return &ControllerError{Controller: ctrl, Dir: p, Err: err}
			}
		}
	}
	return nil
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// writeControl writes value to an existing control file in one write(2),
// as the kernel requires.
func writeControl(file, value string) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	_, werr := f.Write([]byte(value))
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("writing %q to %s: %w", value, file, werr)
	}
	if cerr != nil {
		return fmt.Errorf("writing %q to %s: %w", value, file, cerr)
	}
	return nil
}

// AddProc moves process pid (the whole thread group) into c in every
// hierarchy.
func (c *Cgroup) AddProc(pid int) error {
	for _, k := range c.keys() {
		if err := writeControl(filepath.Join(c.dirs[k], "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("moving process %d into cgroup %s: %w", pid, c, err)
		}
	}
	return nil
}

// Enter moves the calling process into c: what an exec stub calls just
// before execve(2), so the app starts inside its cgroup.
func (c *Cgroup) Enter() error { return c.AddProc(os.Getpid()) }

// UnifiedDir opens c's directory in the v2 hierarchy, for
// syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}
// (clone3 with CLONE_INTO_CGROUP: the child starts in c). It is only
// complete on a unified host: on a hybrid one the child lands in c's
// tracking cgroup but not in its v1 controller cgroups, so use Enter
// from an exec stub there.
func (c *Cgroup) UnifiedDir() (*os.File, error) {
	d, ok := c.dirs[UnifiedKey]
	if !ok {
		return nil, &ControllerError{Controller: "cgroup2", Err: ErrControllerMissing}
	}
	f, err := os.OpenFile(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening cgroup %s: %w", c, err)
	}
	return f, nil
}

// Procs lists the processes directly in c, over every hierarchy, sorted.
// A cgroup that does not exist has none.
func (c *Cgroup) Procs() ([]int, error) {
	set := map[int]bool{}
	for _, k := range c.keys() {
		pids, err := readProcs(c.dirs[k])
		if err != nil {
			return nil, err
		}
		for _, p := range pids {
			set[p] = true
		}
	}
	return sortedPids(set), nil
}

func readProcs(dir string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODEV) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing processes of %s: %w", dir, err)
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil && p > 0 {
			out = append(out, p)
		}
	}
	return out, nil
}

func sortedPids(set map[int]bool) []int {
	out := make([]int, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

// keys are c's hierarchies in a fixed order (unified first).
func (c *Cgroup) keys() []string {
	ks := make([]string, 0, len(c.dirs))
	for k := range c.dirs {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if (ks[i] == UnifiedKey) != (ks[j] == UnifiedKey) {
			return ks[i] == UnifiedKey
		}
		return ks[i] < ks[j]
	})
	return ks
}

func (c *Cgroup) String() string {
	for _, k := range c.keys() {
		if p, ok := c.path[k]; ok {
			return p
		}
		return c.dirs[k]
	}
	return "(no hierarchy)"
}

// record is the JSON form of a Cgroup written by Save.
type record struct {
	Dirs map[string]string `json:"dirs"`
}

// Save records c's directories in file (atomically), so that another
// process, such as stage1 gc run by `rkt gc`, can Load and Destroy it.
func (c *Cgroup) Save(file string) error {
	if err := atomicfile.WriteFile(file, []byte(c.Encode()), 0o644); err != nil {
		return fmt.Errorf("saving cgroup %s: %w", c, err)
	}
	return nil
}

// Load reads a cgroup recorded by Save. Every directory must be a pod's
// (base name rkt-<something>) and, when it exists, sit in a cgroup file
// system: a record is never a way to kill or remove anything else.
func Load(file string) (*Cgroup, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("loading cgroup record: %w", err)
	}
	c, err := Decode(string(b))
	if err != nil {
		return nil, fmt.Errorf("loading cgroup record %s: %w", file, err)
	}
	for _, d := range c.dirs {
		if !strings.HasPrefix(filepath.Base(d), PodPrefix) {
			return nil, fmt.Errorf("loading cgroup record %s: %w: %q is not a pod cgroup", file, ErrNotCgroup, d)
		}
	}
	return c, nil
}

// Encode is c's directories as one line of JSON, to hand a cgroup to
// another process (an exec stub's argument or environment).
func (c *Cgroup) Encode() string {
	b, _ := json.Marshal(record{Dirs: c.dirs})
	return string(b)
}

// Decode is the inverse of Encode. The result knows only directories:
// Enter, AddProc, Procs, Dirs and Destroy work on it; Create, Set and
// Child need a Cgroup from a Hierarchy. Every directory must be absolute
// and clean and, when it exists, sit in a cgroup file system.
func Decode(s string) (*Cgroup, error) {
	var r record
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return nil, fmt.Errorf("decoding cgroup: %w", err)
	}
	if len(r.Dirs) == 0 {
		return nil, fmt.Errorf("decoding cgroup: %w: no directories", ErrNotCgroup)
	}
	c := &Cgroup{path: map[string]string{}, dirs: map[string]string{}}
	for k, d := range r.Dirs {
		if !filepath.IsAbs(d) || filepath.Clean(d) != d || d == "/" {
			return nil, fmt.Errorf("decoding cgroup: %w: %q", ErrNotCgroup, d)
		}
		if err := checkCgroupfs(d); err != nil {
			return nil, fmt.Errorf("decoding cgroup: %w", err)
		}
		c.dirs[k] = d
	}
	return c, nil
}

// checkCgroupfs refuses a directory outside a cgroup file system; a
// missing one is fine (already removed).
func checkCgroupfs(d string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(d, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("checking %s: %w", d, err)
	}
	if st.Type != unix.CGROUP_SUPER_MAGIC && st.Type != unix.CGROUP2_SUPER_MAGIC {
		return fmt.Errorf("%w: %s is not on a cgroup file system", ErrNotCgroup, d)
	}
	return nil
}

// Destroy kills every process left in c and its descendants, then removes
// the whole tree in every hierarchy, deepest first. It is idempotent: a
// tree already gone is success. It waits for the killed processes to
// leave until ctx ends, or at most 10 s when ctx has no deadline; then it
// returns ErrProcessesRemain.
func (c *Cgroup) Destroy(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	for _, k := range c.keys() {
		if err := checkCgroupfs(c.dirs[k]); err != nil {
			return fmt.Errorf("destroying cgroup %s: %w", c, err)
		}
	}
	delay := time.Millisecond
	for {
		left, err := c.killAll()
		if err != nil {
			return fmt.Errorf("destroying cgroup %s: %w", c, err)
		}
		if len(left) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("destroying cgroup %s: %w: %v", c, ErrProcessesRemain, left)
		case <-time.After(delay):
		}
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
	for _, k := range c.keys() {
		if err := removeTree(ctx, c.dirs[k]); err != nil {
			return fmt.Errorf("destroying cgroup %s: %w", c, err)
		}
	}
	return nil
}

// killAll sends SIGKILL to every process in the trees (through cgroup.kill
// where the kernel has it, which also catches processes forking meanwhile)
// and returns those that were still listed.
func (c *Cgroup) killAll() ([]int, error) {
	set := map[int]bool{}
	for _, k := range c.keys() {
		root := c.dirs[k]
		if k == UnifiedKey {
			err := writeControl(filepath.Join(root, "cgroup.kill"), "1")
			if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENODEV) {
				return nil, err
			}
		}
		err := walkDirs(root, func(d string) error {
			pids, err := readProcs(d)
			for _, p := range pids {
				set[p] = true
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	for p := range set {
		if err := unix.Kill(p, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("killing process %d: %w", p, err)
		}
	}
	return sortedPids(set), nil
}

// walkDirs calls fn for root and every cgroup directory below it, parents
// before children. A missing root is no error.
func walkDirs(root string, fn func(dir string) error) error {
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		return fn(p)
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// removeTree removes root and its cgroup descendants, deepest first. rmdir
// of a cgroup whose last process is still exiting fails with EBUSY for a
// moment: it is retried until ctx ends.
func removeTree(ctx context.Context, root string) error {
	var dirs []string
	if err := walkDirs(root, func(d string) error { dirs = append(dirs, d); return nil }); err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		for {
			err := unix.Rmdir(dirs[i])
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if !errors.Is(err, unix.EBUSY) {
				return fmt.Errorf("removing %s: %w", dirs[i], err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("removing %s: %w (%w)", dirs[i], ErrProcessesRemain, err)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	return nil
}

// SetOOMScoreAdj writes v (-1000..1000, os/linux/oom-score-adj) to
// /proc/<pid>/oom_score_adj; pid 0 is the calling process. Children
// inherit the value, so an exec stub sets it on itself before execve(2).
func SetOOMScoreAdj(pid, v int) error {
	if v < -1000 || v > 1000 {
		return fmt.Errorf("setting oom_score_adj: %w: %d not in -1000..1000", ErrInvalidResources, v)
	}
	p := "self"
	if pid != 0 {
		p = strconv.Itoa(pid)
	}
	if err := writeControl("/proc/"+p+"/oom_score_adj", strconv.Itoa(v)); err != nil {
		return fmt.Errorf("setting oom_score_adj: %w", err)
	}
	return nil
}
