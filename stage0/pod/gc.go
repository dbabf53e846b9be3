package pod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/common/mountinfo"
	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage0/metadata"
)

// EmbryoTimeout is how old an unlocked embryo must be before GC discards it:
// Create holds the embryo's lock from an instant after making it.
const EmbryoTimeout = time.Minute

// GCOptions are `rkt gc`'s settings (and the removal hooks `rkt rm` uses).
type GCOptions struct {
	// GracePeriod: exited pods marked garbage are removed once this long has
	// passed since the mark (the ctime of their directory).
	GracePeriod time.Duration
	// ExpirePrepared: prepared pods older than this (since they entered
	// prepared/) are discarded.
	ExpirePrepared time.Duration
	// MarkOnly: only move pods to exited-garbage/ and garbage/.
	MarkOnly bool
	// Stage1GC runs the pod's stage1 gc entrypoint (injected by
	// stage0/run). It is called for pods that ran, before their mounts are
	// removed. May be nil.
	Stage1GC func(ctx context.Context, p *Pod) error
	// RetryStage1GC keeps a pod whose stage1 gc failed, untouched in
	// exited-garbage/, for the next GC to run it again (rkt gc): what the
	// stage1 holds (network namespace, CNI leases, cgroups) is released
	// only by its gc, and nothing else would point to it once the pod is
	// gone. False removes the pod anyway, with a warning (rkt rm, which
	// the user asked for by name).
	RetryStage1GC bool
	// MDSSocket is the metadata service's registration socket ("" =
	// metadata.DefaultSocketPath). A removed pod that registered (it has
	// an mds-token file) is unregistered there; a service that is not
	// running is not an error.
	MDSSocket string
	// Log receives one line per pod acted on; nil: discard.
	Log *slog.Logger
}

// GCResult says what GC did, by UUID.
type GCResult struct {
	Marked    []string         // exited pods moved to exited-garbage/
	Discarded []string         // aborted prepares, expired prepared pods, stale embryos moved to garbage/
	Removed   []string         // pod directories removed
	Failed    map[string]error // pods GC could not act on (also joined into GC's error)
}

func (o *GCOptions) log() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// GC applies rkt's garbage collection to every pod: exited pods are marked
// (run/ -> exited-garbage/), aborted prepares, expired prepared pods and
// stale embryos are discarded (-> garbage/); then, unless MarkOnly,
// exited-garbage pods older than the grace period and every garbage pod are
// removed. Pods locked by another process are left alone. Failures on one
// pod do not stop the others; they are returned joined.
func GC(ctx context.Context, dataDir string, opts GCOptions) (GCResult, error) {
	res := GCResult{Failed: map[string]error{}}
	log := opts.log()
	fail := func(id string, err error) {
		res.Failed[id] = err
		log.Debug("gc: skipping pod", "uuid", id, "err", err)
	}
	// eachPod calls visit with every pod that loads; a pod gone meanwhile
	// is skipped, one that does not load is recorded as failed.
	eachPod := func(visit func(id string, p *Pod, now time.Time)) error {
		ids, err := uuids(dataDir)
		if err != nil {
			return err
		}
		now := time.Now()
		for _, id := range ids {
			if err := ctx.Err(); err != nil {
				return err
			}
			p, err := load(dataDir, id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				fail(id, err)
				continue
			}
			visit(id, p, now)
		}
		return nil
	}
	err := eachPod(func(id string, p *Pod, now time.Time) {
		var to string
		switch p.State {
		case Exited:
			to = ExitedGarbageDir
		case AbortedPrepare:
			to = GarbageDir
		case Prepared:
			if age, err := ctimeAge(p.Path, now); err == nil && age >= opts.ExpirePrepared {
				to = GarbageDir
			}
		case Embryo:
			if age, err := ctimeAge(p.Path, now); err == nil && age >= EmbryoTimeout {
				to = GarbageDir
			}
		}
		if to == "" {
			return
		}
		moved, err := p.moveUnlocked(p.dir, to)
		if err != nil {
			fail(id, err)
			return
		}
		if !moved {
			return
		}
		if to == ExitedGarbageDir {
			log.Info("moving pod to exited-garbage", "uuid", id)
			res.Marked = append(res.Marked, id)
		} else {
			log.Info("moving pod to garbage", "uuid", id)
			res.Discarded = append(res.Discarded, id)
		}
	})
	if err != nil {
		return res, err
	}
	if opts.MarkOnly {
		return res, joinFailed(res.Failed)
	}

	err = eachPod(func(id string, p *Pod, now time.Time) {
		switch p.State {
		case ExitedGarbage:
			age, err := ctimeAge(p.Path, now)
			if err != nil || age < opts.GracePeriod {
				return
			}
		case Garbage:
		default:
			return
		}
		if err := p.lockExclusive(); err != nil {
			if !errors.Is(err, ErrLocked) && !errors.Is(err, ErrNotFound) {
				fail(id, err)
			}
			return
		}
		log.Info("garbage collecting pod", "uuid", id)
		if err := p.destroy(ctx, &opts); err != nil {
			fail(id, err)
			return
		}
		res.Removed = append(res.Removed, id)
	})
	if err != nil {
		return res, err
	}
	return res, joinFailed(res.Failed)
}

// NotCollectedError is GC's error when it could not act on some pods;
// each pod's error is in Failed (and in GCResult.Failed).
type NotCollectedError struct {
	Failed map[string]error
}

func (e *NotCollectedError) Error() string {
	errs := make([]error, 0, len(e.Failed))
	for _, id := range slices.Sorted(maps.Keys(e.Failed)) {
		errs = append(errs, e.Failed[id])
	}
	return errors.Join(errs...).Error()
}

func (e *NotCollectedError) Unwrap() []error {
	errs := make([]error, 0, len(e.Failed))
	for _, err := range e.Failed {
		errs = append(errs, err)
	}
	return errs
}

func joinFailed(m map[string]error) error {
	if len(m) == 0 {
		return nil
	}
	return &NotCollectedError{Failed: m}
}

// moveUnlocked locks a pod that nobody holds and, if it is still in from,
// moves it to to, then releases the lock. moved is false when another
// process holds the lock or the pod has gone.
func (p *Pod) moveUnlocked(from, to string) (moved bool, err error) {
	if err := p.lockExclusive(); err != nil {
		if errors.Is(err, ErrLocked) || errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	defer p.Close()
	if p.dir != from {
		return false, nil
	}
	if err := p.move(to); err != nil {
		return false, err
	}
	return true, nil
}

// ctimeAge is how long ago the inode at path last changed (for a pod
// directory: when it was renamed into its state directory).
func ctimeAge(path string, now time.Time) (time.Duration, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, err
	}
	return now.Sub(time.Unix(st.Ctim.Unix())), nil
}

// destroy removes a pod in exited-garbage/ or garbage/ whose lock this
// process holds: stage1 gc (for pods that ran), every mount under it, then
// the directory, never crossing a mount point.
func (p *Pod) destroy(ctx context.Context, opts *GCOptions) error {
	defer p.Close()
	if p.dir != ExitedGarbageDir && p.dir != GarbageDir {
		return &StateError{UUID: p.UUID, State: p.State, Op: "removing pod"}
	}
	if p.dir == ExitedGarbageDir && opts.Stage1GC != nil {
		if err := opts.Stage1GC(ctx, p); err != nil {
			if opts.RetryStage1GC {
				return fmt.Errorf("removing pod %s: %w: %w", p.UUID, ErrStage1GC, err)
			}
			opts.log().Warn(fmt.Sprintf("pod %s: stage1 gc failed; removing the pod anyway, what its stage1 held (network namespace, CNI leases, cgroups) may stay behind: %v", p.UUID, err))
		}
	}
	if err := unregister(ctx, p, opts.MDSSocket); err != nil {
		opts.log().Warn(fmt.Sprintf("pod %s: unregistering from the metadata service failed; removing the pod anyway: %v", p.UUID, err))
	}
	if err := UnmountAll(p.Path); err != nil {
		return fmt.Errorf("removing pod %s: %w", p.UUID, err)
	}
	root, err := canonical(p.Path)
	if err != nil {
		return fmt.Errorf("removing pod %s: %w", p.UUID, err)
	}
	mps, err := mountinfo.Under(root)
	if err != nil {
		return fmt.Errorf("removing pod %s: %w", p.UUID, err)
	}
	if len(mps) > 0 {
		return fmt.Errorf("removing pod %s: %w: %v", p.UUID, ErrMountsRemain, mps)
	}
	if err := removeTree(p.Path); err != nil {
		return fmt.Errorf("removing pod %s: %w", p.UUID, err)
	}
	return nil
}

// unregister removes a pod that registered with the metadata service (it
// has an mds-token) from it; nil when the service is not running.
func unregister(ctx context.Context, p *Pod, socket string) error {
	if _, err := os.Lstat(filepath.Join(p.Path, podlayout.MdsTokenFile)); err != nil {
		return nil
	}
	return metadata.Unregister(ctx, socket, p.UUID)
}

// Remove is `rkt rm`: it removes a pod that is not running, being prepared
// or being deleted (those give a *StateError with rkt's text; errors.Is
// ErrRunning for a running pod). An exited pod is marked exited-garbage
// and removed at once (stage1 gc included); a prepared pod or an aborted
// prepare is moved to garbage and removed.
func (p *Pod) Remove(ctx context.Context, opts GCOptions) error {
	if p.lock == nil {
		if err := p.Refresh(); err != nil {
			return err
		}
	}
	switch p.State {
	case Running, Embryo, Preparing, Deleting, ExitedDeleting:
		return &StateError{UUID: p.UUID, State: p.State}
	}
	if err := p.lockExclusive(); err != nil {
		if errors.Is(err, ErrLocked) {
			if rerr := p.Refresh(); rerr == nil {
				return &StateError{UUID: p.UUID, State: p.State}
			}
		}
		return err
	}
	// Locked by us now; the directory says what it was.
	switch p.dir {
	case RunDir:
		if err := p.move(ExitedGarbageDir); err != nil {
			p.Close()
			return err
		}
	case PrepareDir, PreparedDir, EmbryoDir:
		if err := p.move(GarbageDir); err != nil {
			p.Close()
			return err
		}
	}
	if err := p.destroy(ctx, &opts); err != nil {
		return err
	}
	return nil
}
