// Package pod manages pod directories under <data dir>/pods: their states,
// the transitions between them, their locks, lookup, status, and removal.
//
// A pod's state is derived from the disk every time, never remembered:
// which directory it sits in, and whether some process holds an exclusive
// flock(2) on that directory (rkt v1.30's state machine):
//
//	pods/embryo/<uuid>          embryo                    (created, being set up by Create)
//	pods/prepare/<uuid>         preparing | aborted prepare   (locked | unlocked)
//	pods/prepared/<uuid>        prepared
//	pods/run/<uuid>             running | exited          (locked | unlocked)
//	pods/exited-garbage/<uuid>  exited deleting | exited garbage
//	pods/garbage/<uuid>         deleting | garbage
//
//	embryo -> prepare -> prepared -> run -> exited-garbage -> (removed)
//	          prepare ------------> run
//	          prepare -> garbage -> (removed)           failed or aborted prepare
//	                     prepared -> garbage            expired prepared pod
//
// Invariants:
//   - every transition is one rename(2) of the pod directory, made while
//     the transition's author holds the exclusive lock on it (the lock is on
//     the directory's inode, so it moves with it);
//   - the run entrypoint of stage1 inherits that lock (RKT_LOCK_FD) and the
//     pod is "running" exactly while some process holds it;
//   - a directory is removed only while its lock is held by the remover and
//     after every mount under it is gone (see UnmountAll); the removal itself
//     never crosses a mount point, so a host directory bound into a pod is
//     never touched.
package pod

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/appc/spec/schema"
	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/atomicfile"
	"github.com/rkt/rkt/common/flock"
	"github.com/rkt/rkt/common/podlayout"
)

// State is a pod's state, spelled as rkt spells it.
type State string

const (
	Embryo         State = "embryo"
	Preparing      State = "preparing"
	AbortedPrepare State = "aborted prepare"
	Prepared       State = "prepared"
	Running        State = "running"
	Deleting       State = "deleting"
	ExitedDeleting State = "exited deleting"
	Exited         State = "exited"
	ExitedGarbage  State = "exited garbage"
	Garbage        State = "garbage"
)

// Exited reports whether the pod ran and is no longer running (it may
// already be marked or being removed).
func (s State) Exited() bool {
	return s == Exited || s == ExitedGarbage || s == ExitedDeleting
}

// AfterRun reports whether the pod has been started: it runs, or ran
// and exited (rkt's IsAfterRun).
func (s State) AfterRun() bool {
	return s == Running || s == Deleting || s.Exited()
}

// Directories under <data dir>/pods, one per family of states.
const (
	EmbryoDir        = "embryo"
	PrepareDir       = "prepare"
	PreparedDir      = "prepared"
	RunDir           = "run"
	ExitedGarbageDir = "exited-garbage"
	GarbageDir       = "garbage"
)

// stateDirs are in lifecycle order: a pod only ever moves to a later one,
// so scanning them in this order finds a pod that moves during the scan.
var stateDirs = []string{EmbryoDir, PrepareDir, PreparedDir, RunDir, ExitedGarbageDir, GarbageDir}

// stateOf maps a directory and its lock to a state.
func stateOf(dir string, locked bool) State {
	switch dir {
	case EmbryoDir:
		return Embryo
	case PrepareDir:
		if locked {
			return Preparing
		}
		return AbortedPrepare
	case PreparedDir:
		return Prepared
	case RunDir:
		if locked {
			return Running
		}
		return Exited
	case ExitedGarbageDir:
		if locked {
			return ExitedDeleting
		}
		return ExitedGarbage
	default:
		if locked {
			return Deleting
		}
		return Garbage
	}
}

// Pod is one pod directory. State is derived when the Pod is loaded and
// updated by this process's transitions; call Refresh to see other
// processes' changes.
type Pod struct {
	UUID  string
	Path  string
	State State

	dataDir string
	dir     string      // one of stateDirs
	lock    *flock.Lock // held by this process, or nil
}

// PodsDir is <data dir>/pods.
func PodsDir(dataDir string) string { return filepath.Join(dataDir, "pods") }

func podPath(dataDir, dir, id string) string { return filepath.Join(dataDir, "pods", dir, id) }

func ensureDirs(dataDir string) error {
	for _, d := range stateDirs {
		if err := os.MkdirAll(filepath.Join(dataDir, "pods", d), 0o750); err != nil {
			return fmt.Errorf("creating pods directories: %w", err)
		}
	}
	return nil
}

// Create makes a new pod: pods/embryo/<uuid> with its pod-created marker,
// locked exclusively, then renamed to pods/prepare/<uuid>. The returned pod
// is "preparing" and holds its lock until Prepared, Run, Abort or Close.
func Create(dataDir string) (p *Pod, retErr error) {
	if err := ensureDirs(dataDir); err != nil {
		return nil, err
	}
	id := uuid.New().String()
	path := podPath(dataDir, EmbryoDir, id)
	if err := os.Mkdir(path, 0o750); err != nil {
		return nil, fmt.Errorf("creating pod %s: %w", id, err)
	}
	p = &Pod{UUID: id, Path: path, State: Embryo, dataDir: dataDir, dir: EmbryoDir}
	defer func() {
		if retErr != nil {
			p.Close()
			os.RemoveAll(p.Path)
		}
	}()
	l, err := flock.LockPath(path, flock.Exclusive, false, false)
	if err != nil {
		return nil, fmt.Errorf("creating pod %s: %w", id, err)
	}
	p.lock = l
	// The marker is empty and only its mtime is read (created): it needs
	// no fsync of its own. A crash of the host before the pod left embryo/
	// loses nothing that gc does not remove, and created falls back to the
	// directory's mtime.
	if err := atomicfile.ReplaceFile(filepath.Join(path, podlayout.PodCreatedFile), nil, 0o640); err != nil {
		return nil, fmt.Errorf("creating pod %s: %w", id, err)
	}
	if err := p.move(PrepareDir); err != nil {
		return nil, fmt.Errorf("creating pod %s: %w", id, err)
	}
	return p, nil
}

// move renames the pod directory into another state directory. The caller
// holds the lock. The destination directory is fsynced, as rkt 1.30 did,
// and not the source: on a journalling file system (ext4, xfs) a rename
// commits as one transaction naming both directories.
func (p *Pod) move(dir string) error {
	to := podPath(p.dataDir, dir, p.UUID)
	if err := os.Rename(p.Path, to); err != nil {
		return fmt.Errorf("moving pod %s to %s: %w", p.UUID, dir, err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(to)); err != nil {
		return fmt.Errorf("moving pod %s to %s: %w", p.UUID, dir, err)
	}
	p.Path, p.dir = to, dir
	p.State = stateOf(dir, true)
	return nil
}

// lockExclusive takes the pod's exclusive lock without waiting for a
// holder, but retrying briefly: readers take a shared lock for an instant
// to derive the state, which must not make a transition fail.
func (p *Pod) lockExclusive() error {
	if p.lock != nil {
		return nil
	}
	var err error
	for i := 0; i < 10; i++ {
		var l *flock.Lock
		l, err = flock.LockPath(p.Path, flock.Exclusive, false, false)
		if err == nil {
			p.lock = l
			return nil
		}
		if !errors.Is(err, flock.ErrLocked) {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("locking pod %s: %w", p.UUID, ErrNotFound)
			}
			return fmt.Errorf("locking pod %s: %w", p.UUID, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("locking pod %s: %w", p.UUID, ErrLocked)
}

// Prepared moves a preparing pod to prepared/ and releases its lock.
func (p *Pod) Prepared() error {
	if p.dir != PrepareDir || p.lock == nil {
		return &StateError{UUID: p.UUID, State: p.State, Op: "marking pod prepared"}
	}
	if err := p.move(PreparedDir); err != nil {
		return err
	}
	p.State = Prepared
	return p.Close()
}

// Run moves a pod from prepare/ (lock held by this process) or prepared/
// (the lock is taken here; ErrLocked if another process has it) to run/.
// It returns the descriptor of the locked pod directory with close-on-exec
// cleared, for stage1's RKT_LOCK_FD; the pod is running while it is open.
func (p *Pod) Run() (lockFD uintptr, err error) {
	switch {
	case p.dir == PrepareDir && p.lock != nil:
	case p.dir == PreparedDir:
		if err := p.lockExclusive(); err != nil {
			return 0, err
		}
	default:
		return 0, &StateError{UUID: p.UUID, State: p.State, Op: "running pod"}
	}
	if err := p.move(RunDir); err != nil {
		return 0, err
	}
	fd := p.lock.File().Fd()
	if _, err := unix.FcntlInt(fd, unix.F_SETFD, 0); err != nil {
		return 0, fmt.Errorf("running pod %s: clearing close-on-exec on the lock: %w", p.UUID, err)
	}
	return fd, nil
}

// Abort moves a preparing pod (lock held by this process) to garbage/ and
// releases the lock; the next GC removes it.
func (p *Pod) Abort() error {
	if p.dir != PrepareDir && p.dir != EmbryoDir || p.lock == nil {
		return &StateError{UUID: p.UUID, State: p.State, Op: "aborting pod"}
	}
	if err := p.move(GarbageDir); err != nil {
		return err
	}
	err := p.Close()
	p.State = Garbage
	return err
}

// Close releases the lock if this process holds it. The pod's State is
// re-derived.
func (p *Pod) Close() error {
	if p.lock == nil {
		return nil
	}
	err := p.lock.Close()
	p.lock = nil
	p.State = stateOf(p.dir, false)
	return err
}

// Refresh re-derives the pod's directory and state from the disk.
// ErrNotFound when the pod is gone.
func (p *Pod) Refresh() error {
	if p.lock != nil {
		return nil // we hold it: nobody else can move it
	}
	q, err := load(p.dataDir, p.UUID)
	if err != nil {
		return err
	}
	p.Path, p.dir, p.State = q.Path, q.dir, q.State
	return nil
}

// load finds the pod with exactly this UUID and derives its state.
func load(dataDir, id string) (*Pod, error) {
	for attempt := 0; attempt < 5; attempt++ {
		moved := false
		for _, d := range stateDirs {
			path := podPath(dataDir, d, id)
			if _, err := os.Lstat(path); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return nil, fmt.Errorf("loading pod %s: %w", id, err)
			}
			held, err := flock.Held(path)
			if errors.Is(err, fs.ErrNotExist) {
				moved = true // renamed under us: scan again
				break
			}
			if err != nil {
				return nil, fmt.Errorf("loading pod %s: %w", id, err)
			}
			return &Pod{UUID: id, Path: path, State: stateOf(d, held), dataDir: dataDir, dir: d}, nil
		}
		if !moved {
			break
		}
	}
	return nil, fmt.Errorf("pod %s: %w", id, ErrNotFound)
}

// uuids lists the UUIDs of every pod directory, each once.
func uuids(dataDir string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, d := range stateDirs {
		ents, err := os.ReadDir(filepath.Join(dataDir, "pods", d))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listing pods: %w", err)
		}
		for _, e := range ents {
			n := e.Name()
			if !e.IsDir() || podlayout.ValidUUID(n) != nil || seen[n] {
				continue
			}
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// Get finds a pod by its UUID or a unique prefix of it (any case).
// ErrNotFound, ErrAmbiguous, ErrInvalidUUID.
func Get(dataDir, uuidOrPrefix string) (*Pod, error) {
	prefix := strings.ToLower(uuidOrPrefix)
	if prefix == "" {
		// rkt 1.30's words, which scripts match.
		return nil, fmt.Errorf("looking up pod: UUID cannot be empty: %w", ErrInvalidUUID)
	}
	if len(prefix) > 36 || strings.Trim(prefix, "0123456789abcdef-") != "" {
		return nil, fmt.Errorf("looking up pod %q: %w", uuidOrPrefix, ErrInvalidUUID)
	}
	ids, err := uuids(dataDir)
	if err != nil {
		return nil, err
	}
	var match []string
	for _, id := range ids {
		if strings.HasPrefix(id, prefix) {
			match = append(match, id)
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("looking up pod: no matches found for %q: %w", prefix, ErrNotFound)
	case 1:
		return load(dataDir, match[0])
	default:
		return nil, fmt.Errorf("looking up pod %q: ambiguous uuid, %d matches: %w", uuidOrPrefix, len(match), ErrAmbiguous)
	}
}

// List loads every pod, oldest first (by the pod-created marker; the UUID
// breaks ties). Pods removed during the listing are left out.
func List(dataDir string) ([]*Pod, error) {
	ids, err := uuids(dataDir)
	if err != nil {
		return nil, err
	}
	type entry struct {
		p       *Pod
		created time.Time
	}
	var es []entry
	for _, id := range ids {
		p, err := load(dataDir, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		es = append(es, entry{p, p.created()})
	}
	sort.Slice(es, func(i, j int) bool {
		if !es[i].created.Equal(es[j].created) {
			return es[i].created.Before(es[j].created)
		}
		return es[i].p.UUID < es[j].p.UUID
	})
	out := make([]*Pod, len(es))
	for i, e := range es {
		out[i] = e.p
	}
	return out, nil
}

// created is the mtime of pod-created, or of the directory when missing.
func (p *Pod) created() time.Time {
	if fi, err := os.Stat(filepath.Join(p.Path, podlayout.PodCreatedFile)); err == nil {
		return fi.ModTime()
	}
	if fi, err := os.Stat(p.Path); err == nil {
		return fi.ModTime()
	}
	return time.Time{}
}

// Manifest reads the pod manifest: the parsed form and the bytes as stored.
func (p *Pod) Manifest() (*schema.PodManifest, []byte, error) {
	data, err := p.readFile(podlayout.PodManifestFile)
	if err != nil {
		return nil, nil, fmt.Errorf("reading pod manifest of %s: %w", p.UUID, err)
	}
	var m schema.PodManifest
	if err := m.UnmarshalJSON(data); err != nil {
		return nil, nil, fmt.Errorf("reading pod manifest of %s: %w", p.UUID, err)
	}
	return &m, data, nil
}

// readFile reads a file of the pod directory, following the pod once if it
// moved to another state directory meanwhile.
func (p *Pod) readFile(rel string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(p.Path, rel))
	if errors.Is(err, fs.ErrNotExist) && p.lock == nil {
		if _, serr := os.Stat(p.Path); errors.Is(serr, fs.ErrNotExist) {
			if rerr := p.Refresh(); rerr != nil {
				return nil, rerr
			}
			data, err = os.ReadFile(filepath.Join(p.Path, rel))
		}
	}
	return data, err
}
