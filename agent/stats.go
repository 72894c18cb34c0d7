package agent

import (
	"sync/atomic"
	"time"

	"github.com/clsync-go/clsync/aggregator"
	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/watcher"
)

// Stats is a snapshot of a run, for monitoring.
type Stats struct {
	// Events are the events read from the watcher; Rescans those that ask
	// for a directory's whole subtree (a directory created or moved in, a
	// re-walk after an overflow, a resync).
	Events, Rescans uint64
	// Overflows are the kernel queue's overflows so far.
	Overflows uint64
	// Syncs are the batches synced, SyncFailures those that failed.
	Syncs, SyncFailures uint64
	// Queued are the paths waiting; Watches the kernel watches held.
	Queued, Watches int
	// LastSuccess is when a sync last succeeded (zero: none yet).
	LastSuccess time.Time
	// InitialDone tells whether the initial sync has succeeded.
	InitialDone bool
}

// stats are the counters behind Stats, written by the run.
type stats struct {
	events, rescans     atomic.Uint64
	syncs, syncFailures atomic.Uint64
	lastSuccess         atomic.Int64 // unix nanoseconds
	initialDone         atomic.Bool
	watcher             atomic.Pointer[watcher.Watcher]
	aggregator          atomic.Pointer[aggregator.Aggregator]
}

func (s *stats) received(evs []event.Event) {
	s.events.Add(uint64(len(evs)))
	for _, ev := range evs {
		if ev.Op&event.Rescan != 0 {
			s.rescans.Add(1)
		}
	}
}

func (s *stats) synced(err error, now time.Time) {
	s.syncs.Add(1)
	if err != nil {
		s.syncFailures.Add(1)
		return
	}
	s.lastSuccess.Store(now.UnixNano())
}

// Stats returns the run's figures; safe from any goroutine, at any time.
func (a *Agent) Stats() Stats {
	s := &a.stats
	st := Stats{
		Events: s.events.Load(), Rescans: s.rescans.Load(),
		Syncs: s.syncs.Load(), SyncFailures: s.syncFailures.Load(),
		InitialDone: s.initialDone.Load(),
	}
	if ns := s.lastSuccess.Load(); ns != 0 {
		st.LastSuccess = time.Unix(0, ns)
	}
	if w := s.watcher.Load(); w != nil {
		st.Watches, st.Overflows = w.Watches(), w.Overflows()
	}
	if agg := s.aggregator.Load(); agg != nil {
		st.Queued = agg.Queued()
	}
	return st
}
