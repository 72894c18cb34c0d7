package agent

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/clsync-go/clsync/aggregator"
	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/internal/lifecycle"
	"github.com/clsync-go/clsync/watcher"
)

// Stats is a snapshot of a run, for monitoring.
type Stats struct {
	// State is clsync's status word (starting, initsync, running,
	// synchandler, hold on, ...); Paused tells whether an operator holds
	// syncing (Pause).
	State  string
	Paused bool
	// Events are the events read from the watcher; Rescans those that ask
	// for a directory's whole subtree (a directory created or moved in, a
	// re-walk after an overflow, a resync).
	Events, Rescans uint64
	// Overflows are the kernel queue's overflows so far.
	Overflows uint64
	// Syncs are the batches synced, SyncFailures those that failed.
	Syncs, SyncFailures uint64
	// SyncTime is the time the handler runs took, all together.
	SyncTime time.Duration
	// Queued are the paths waiting; Load tells where, and what runs.
	Queued int
	Load   aggregator.Load
	// Monitor is the watcher's kernel interface (inotify, fanotify, ...).
	Monitor string
	// Watches are the directories watched (kernel watches with inotify),
	// WatchLimit how many inotify watches this user may hold (-1: unknown,
	// or no such limit: fanotify).
	Watches, WatchLimit int
	// LastSync is the latest sync that ended; LastSuccess when a sync
	// last succeeded (zero: none yet).
	LastSync    SyncRecord
	LastSuccess time.Time
	// Iteration is clsync's CLSYNC_ITERATION.
	Iteration int
	// Walked are the directories watched by the initial walk so far,
	// WalkTook its duration once it is done.
	Walked   int
	WalkDone bool
	WalkTook time.Duration
	// InitialDone tells whether the initial sync has succeeded,
	// InitialTook how long the walk and the initial sync took.
	InitialDone bool
	InitialTook time.Duration
	// Started is when the run started.
	Started time.Time
}

// SyncRecord is one sync's start, end and error ("" when it succeeded).
type SyncRecord struct {
	Start, End time.Time
	Err        string
}

// stats are the counters behind Stats, written by the run.
type stats struct {
	events, rescans     atomic.Uint64
	syncs, syncFailures atomic.Uint64
	syncNanos           atomic.Int64
	lastSuccess         atomic.Int64 // unix nanoseconds
	initialDone         atomic.Bool
	initialTook         atomic.Int64
	walked              atomic.Int64
	walkTook            atomic.Int64 // 0 until the walk is done
	started             atomic.Int64
	watcher             atomic.Pointer[watcher.Watcher]
	aggregator          atomic.Pointer[aggregator.Aggregator]
	status              atomic.Pointer[lifecycle.Status]
	iteration           atomic.Pointer[func() int]

	mu       sync.Mutex
	lastSync SyncRecord
}

func (s *stats) received(evs []event.Event) {
	s.events.Add(uint64(len(evs)))
	for _, ev := range evs {
		if ev.Op&event.Rescan != 0 {
			s.rescans.Add(1)
		}
	}
}

func (s *stats) synced(err error, start, end time.Time) {
	s.syncs.Add(1)
	s.syncNanos.Add(int64(end.Sub(start)))
	rec := SyncRecord{Start: start, End: end}
	if err != nil {
		s.syncFailures.Add(1)
		rec.Err = err.Error()
	} else {
		s.lastSuccess.Store(end.UnixNano())
	}
	s.mu.Lock()
	s.lastSync = rec
	s.mu.Unlock()
}

// Stats returns the run's figures; safe from any goroutine, at any time.
func (a *Agent) Stats() Stats {
	s := &a.stats
	st := Stats{
		State: "starting", Paused: a.hold.Held(),
		Events: s.events.Load(), Rescans: s.rescans.Load(),
		Syncs: s.syncs.Load(), SyncFailures: s.syncFailures.Load(), SyncTime: time.Duration(s.syncNanos.Load()),
		WatchLimit:  a.cfg.WatchLimit,
		InitialDone: s.initialDone.Load(), InitialTook: time.Duration(s.initialTook.Load()),
		Walked: int(s.walked.Load()), WalkTook: time.Duration(s.walkTook.Load()),
	}
	st.WalkDone = st.WalkTook > 0
	if ns := s.lastSuccess.Load(); ns != 0 {
		st.LastSuccess = time.Unix(0, ns)
	}
	if ns := s.started.Load(); ns != 0 {
		st.Started = time.Unix(0, ns)
	}
	s.mu.Lock()
	st.LastSync = s.lastSync
	s.mu.Unlock()
	if status := s.status.Load(); status != nil {
		st.State = status.Get()
	}
	if it := s.iteration.Load(); it != nil {
		st.Iteration = (*it)()
	}
	if w := s.watcher.Load(); w != nil {
		st.Watches, st.Overflows, st.Monitor = w.Watches(), w.Overflows(), string(w.Backend())
		if w.Backend() == watcher.Fanotify {
			st.WatchLimit = -1
		}
	}
	if agg := s.aggregator.Load(); agg != nil {
		st.Load = agg.Load()
		st.Queued = st.Load.Waiting()
	}
	return st
}
