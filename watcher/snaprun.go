package watcher

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// snapSource is a kernel notification interface behind a snapCore (kqueue,
// or FreeBSD's inotify): it waits for notifications and hands each to the
// core (dirChanged, fileChanged, dirGone, overflow).
type snapSource interface {
	// read waits up to timeout (negative: no limit) for notifications or
	// a poke, and hands what is queued to the core. drainedAt is when the
	// read started if it took everything that was queued then, else zero.
	read(timeout time.Duration) (woken bool, drainedAt time.Time, err error)
	// poke ends a read that waits; safe from any goroutine until close.
	poke()
	watches() int // kernel watches (and, for kqueue, descriptors) held
	close() error
}

// snapWatcher is the backend of the snapshot sources: one goroutine reads
// the source, lets the core re-list what changed, and delivers the events.
type snapWatcher struct {
	readerState
	kindOf Backend
	pin    Root
	log    *slog.Logger
	core   *snapCore
	src    snapSource

	// The reader goroutine's own.
	drainedAt time.Time
	barriers  []snapBarrier

	nwatches   atomic.Int64
	noverflows atomic.Uint64
}

// snapConfigOf is what the snapshot core needs of opts.
func snapConfigOf(opts Options, pin Root) snapConfig {
	return snapConfig{pin: pin, walk: opts.Walk, monitor: opts.Monitor, oneFS: opts.OneFileSystem,
		window: opts.MovePairTimeout}
}

// snapBarrier is a Quiesce call the reader took at since: it passes once a
// read that started later found the queue empty, and all it read is
// delivered.
type snapBarrier struct {
	reply chan struct{}
	since time.Time
}

// newSnapWatcher walks the tree with core (whose kernel and lister are
// src's) and starts the reader. It closes src if it fails.
func newSnapWatcher(ctx context.Context, opts Options, kind Backend, pin Root, core *snapCore, src snapSource) (*snapWatcher, error) {
	if opts.Progress != nil {
		every := opts.ProgressEvery
		if every <= 0 {
			every = time.Second
		}
		report := time.Now().Add(every)
		core.cfg.tracked = func(dirs int) {
			if now := time.Now(); now.After(report) {
				opts.Progress(dirs)
				report = now.Add(every)
			}
		}
	}
	err := core.start(time.Now())
	core.cfg.tracked = nil
	if err != nil {
		src.close()
		return nil, err
	}
	w := &snapWatcher{
		readerState: newReaderState(src.poke),
		kindOf:      kind,
		pin:         pin,
		log:         opts.Logger,
		core:        core,
		src:         src,
	}
	w.nwatches.Store(int64(src.watches()))
	w.start(ctx, w.log, w.loop, src.close)
	return w, nil
}

func (w *snapWatcher) watches() int      { return int(w.nwatches.Load()) }
func (w *snapWatcher) overflows() uint64 { return w.noverflows.Load() }
func (w *snapWatcher) pinned() Root      { return w.pin }
func (w *snapWatcher) kind() Backend     { return w.kindOf }
func (w *snapWatcher) loop() error {
	for {
		woken, drainedAt, err := w.src.read(w.timeout(time.Now()))
		if err != nil {
			return err
		}
		if !drainedAt.IsZero() {
			w.drainedAt = drainedAt
		}
		var reconciles []chan struct{}
		if woken {
			if w.stopping() {
				return nil
			}
			for _, reply := range w.take(&w.newBarriers) {
				w.barriers = append(w.barriers, snapBarrier{reply: reply, since: time.Now()})
			}
			reconciles = w.take(&w.newReconciles)
		}
		before := w.core.overflows
		if err := w.core.process(time.Now(), w.drainedAt); err != nil {
			return err
		}
		if len(reconciles) > 0 {
			if err := w.core.reconcile(time.Now()); err != nil {
				return err
			}
		}
		if n := w.core.overflows - before; n > 0 {
			w.log.Warn("notifications were lost: re-listed the tree", "root", w.pin.Path, "backend", w.kindOf)
			w.noverflows.Add(n)
		}
		w.nwatches.Store(int64(w.src.watches()))
		if out := w.core.take(); len(out) > 0 && !w.deliver(out) {
			return nil
		}
		for _, reply := range reconciles {
			close(reply)
		}
		w.passBarriers()
	}
}

// timeout is how long the next read may wait: not at all while a barrier
// or a stale listing waits for the queue to be seen empty, else until the
// next directory that left is due to be dropped.
func (w *snapWatcher) timeout(now time.Time) time.Duration {
	if len(w.barriers) > 0 || w.core.pending() {
		return 0
	}
	if due, ok := w.core.nextDeadline(); ok {
		return max(due.Sub(now), 0)
	}
	return -1
}

// passBarriers answers the barriers that a later empty read has passed,
// once no listing waits for a retry (its changes are not reported yet).
func (w *snapWatcher) passBarriers() {
	if len(w.barriers) == 0 || w.core.pending() {
		return
	}
	keep := w.barriers[:0]
	for _, b := range w.barriers {
		if w.drainedAt.After(b.since) {
			close(b.reply)
		} else {
			keep = append(keep, b)
		}
	}
	clear(w.barriers[len(keep):])
	w.barriers = keep
}
