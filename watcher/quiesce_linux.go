//go:build linux

package watcher

import (
	"math"
	"time"

	"golang.org/x/sys/unix"
)

// barrier is a Quiesce call the reader has taken. It passes once the bytes
// that were queued when it was taken have been read, and then everything
// those events started has been reported: the walks, the pairing of move
// halves, a re-walk an overflow asked for.
type barrier struct {
	reply chan struct{}
	// The queue as it was at the call has been read once w.consumed
	// reaches bytes, or once a read that started after since found the
	// queue empty: whichever comes first. bytes is the kernel's count
	// (FIONREAD), MaxUint64 when it could not be had; since alone would
	// do, but on a busy tree the queue may never be seen empty.
	bytes  uint64
	since  time.Time
	read   bool   // it has: the fields below are set
	job    uint64 // every walk job up to this id must be done
	move   uint64 // every move half up to this seq must be paired or expired
	rewalk uint64 // this many re-walks must have started (and be done: job)
}

// takeBarriers takes the Quiesce calls made since the last time, noting how
// much the queue holds now: what is queued at a call lies before every
// event of a change made after it.
func (w *treeWatcher) takeBarriers() {
	calls := w.take(&w.newBarriers)
	if len(calls) == 0 {
		return
	}
	// TIOCINQ is FIONREAD: the bytes of the events queued (fanotify counts
	// fanMetadataLen per event, and so does w.consumed then).
	queued, err := unix.IoctlGetInt(w.fd, unix.TIOCINQ)
	target := w.consumed + uint64(queued)
	if err != nil || queued < 0 {
		// Cannot tell (a seccomp filter without it).
		target = math.MaxUint64
	}
	now := time.Now()
	for _, reply := range calls {
		w.barriers = append(w.barriers, &barrier{reply: reply, bytes: target, since: now})
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
		if w.consumed < b.bytes && !w.drainedAt.After(b.since) {
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
