//go:build linux

package watcher

import (
	"context"
	"time"

	"golang.org/x/sys/unix"
)

// barrier is a Quiesce call the reader has taken. It passes once the bytes
// that were queued when it was taken have been read, and then everything
// those events started has been reported: the walks, the pairing of move
// halves, a re-walk an overflow asked for.
type barrier struct {
	reply chan struct{}
	bytes uint64 // passed once w.consumed reaches it
	// since, when the queue's length was unknown, replaces bytes: passed
	// once a read that started after it found the queue empty.
	since  time.Time
	read   bool   // it has: the fields below are set
	job    uint64 // every walk job up to this id must be done
	move   uint64 // every move half up to this seq must be paired or expired
	rewalk uint64 // this many re-walks must have started (and be done: job)
}

func (w *treeWatcher) quiesce(ctx context.Context) error { return w.ask(ctx, &w.newBarriers) }

// takeBarriers takes the Quiesce calls made since the last time, noting how
// much the queue holds now: what is queued at a call lies before every
// event of a change made after it.
func (w *treeWatcher) takeBarriers() {
	calls := w.take(&w.newBarriers)
	if len(calls) == 0 {
		return
	}
	// TIOCINQ is FIONREAD: the bytes of events queued.
	queued, err := unix.IoctlGetInt(w.fd, unix.TIOCINQ)
	for _, reply := range calls {
		b := &barrier{reply: reply, bytes: w.consumed + uint64(queued)}
		if err != nil {
			// Cannot tell (a seccomp filter without it): wait for a
			// read that empties the queue.
			b.since = time.Now()
		}
		w.barriers = append(w.barriers, b)
	}
}

// passBarriers answers the barriers whose work is done. It runs after a
// flush, when nothing the reader has handled waits in w.out.
func (w *treeWatcher) passBarriers() {
	if len(w.barriers) == 0 {
		return
	}
	keep := w.barriers[:0]
	for _, b := range w.barriers {
		if w.passed(b) {
			close(b.reply)
		} else {
			keep = append(keep, b)
		}
	}
	clear(w.barriers[len(keep):])
	w.barriers = keep
}

func (w *treeWatcher) passed(b *barrier) bool {
	if !b.read {
		if b.since.IsZero() && w.consumed < b.bytes || !b.since.IsZero() && !w.drainedAt.After(b.since) {
			return false
		}
		b.read, b.job, b.move, b.rewalk = true, w.jobID, w.moveSeq, w.rewalks
		if w.rewalk.scheduled || w.rewalk.again {
			b.rewalk++
		}
	}
	if w.rewalks < b.rewalk || w.moves.pendingUpTo(b.move) {
		return false
	}
	if w.overflowJob != nil && w.rewalks == b.rewalk {
		// The re-walk the barrier waits for is running.
		b.job = max(b.job, w.overflowJob.id)
	}
	for j := range w.activeJobs {
		if j.id <= b.job {
			return false
		}
	}
	return len(w.out) == 0
}
