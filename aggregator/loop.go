package aggregator

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/clsync-go/clsync/event"
)

// SyncFunc syncs one batch. Up to Config.Parallel runs go on at once, on
// batches that share no path when Config.Safe is set; with Parallel 1 runs
// never overlap. A non-nil error sends the batch's items back to the queue;
// ctx is cancelled when Run's is.
type SyncFunc func(ctx context.Context, b Batch) error

// ErrStopped is returned by Flush and Rescan once Run has returned.
var ErrStopped = errors.New("aggregator: not running")

// Aggregator runs a Core in one goroutine (Run) and talks to it through
// requests, so the Core never needs a lock.
type Aggregator struct {
	cfg     Config
	sync    SyncFunc
	reqs    chan request
	stopped chan struct{}
	// load is the loop's last Load, for other goroutines.
	loadMu sync.Mutex
	load   Load
}

// Load is what the aggregator holds at one moment, for monitoring.
type Load struct {
	// Queued are the paths waiting, by Queue.
	Queued [numQueues]int
	// Oldest is when the change that waits longest entered its queue
	// (zero: nothing waits).
	Oldest time.Time
	// Running are the handler runs going on, RunningPaths their paths.
	Running, RunningPaths int
}

// Waiting are the paths waiting, in every queue.
func (l Load) Waiting() int {
	n := 0
	for _, q := range l.Queued {
		n += q
	}
	return n
}

// Pending is every path not synced yet: waiting or in a run.
func (l Load) Pending() int { return l.Waiting() + l.RunningPaths }

// Load returns the aggregator's load; safe from any goroutine.
func (a *Aggregator) Load() Load {
	a.loadMu.Lock()
	defer a.loadMu.Unlock()
	return a.load
}

type requestKind uint8

const (
	reqFlush requestKind = iota
	reqRescan
	reqIdle
)

type request struct {
	kind  requestKind
	reply chan flushResult
}

type flushResult struct {
	n   int
	err error
}

// New returns an Aggregator that will batch with cfg and sync with sync.
func New(cfg Config, sync SyncFunc) *Aggregator {
	return &Aggregator{
		cfg:     cfg,
		sync:    sync,
		reqs:    make(chan request),
		stopped: make(chan struct{}),
	}
}

// Run reads event slices from in and syncs batches until ctx is done, then
// cancels a running sync, waits for it and returns ctx's error; what is
// still queued is dropped. It reads in while a sync runs. When in is
// closed Run stops reading it and keeps syncing what is queued (and serving
// Flush and Rescan) until ctx is done. Run must be called once.
func (a *Aggregator) Run(ctx context.Context, in <-chan []event.Event) error {
	defer close(a.stopped)
	core := NewCore(a.cfg)
	syncCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Buffered so that a sync goroutine never waits for the loop.
	done := make(chan runResult, max(a.cfg.Parallel, 1))
	var (
		runs      = map[int]Batch{} // running batches by id
		nextID    int
		locks     = newPathLocks()   // paths of running batches (Safe)
		held      []event.Event      // items kept back by Safe until a run ends
		waiting   []chan flushResult // Flush callers not served yet
		serving   []chan flushResult // Flush callers the flush run serves
		servingID = -1
		idle      []chan flushResult // Idle callers
	)
	start := func(b Batch) int {
		id := nextID
		nextID++
		runs[id] = b
		if a.cfg.Safe {
			locks.add(b.Items)
		}
		go func() { done <- runResult{id: id, err: a.sync(syncCtx, b)} }()
		return id
	}
	// Timers of Go 1.23+ drop a stale expiry on Reset, so one timer serves
	// every wait without draining.
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	for {
		now := time.Now()
		if len(runs) == 0 && len(waiting) > 0 {
			if b, ok := core.Flush(now); ok {
				servingID = start(b)
				serving, waiting = waiting, nil
			} else {
				reply(waiting, flushResult{})
				waiting = nil
			}
		}
		// A waiting Flush lets the running batches end first.
		for len(waiting) == 0 {
			b, ok := core.Next(now)
			if !ok {
				break
			}
			if a.cfg.Safe {
				var keep []event.Event
				for _, it := range b.Items {
					if locks.overlaps(it.Path) {
						held = append(held, it)
					} else {
						keep = append(keep, it)
					}
				}
				if len(keep) == 0 {
					core.Done()
					break
				}
				b.Items = keep
			}
			start(b)
		}
		a.publish(core, runs)
		if len(idle) > 0 && core.Len() == 0 && len(runs) == 0 && len(held) == 0 && len(waiting) == 0 {
			reply(idle, flushResult{})
			idle = nil
		}
		var wake <-chan time.Time
		if t, ok := core.Wake(now); ok {
			timer.Reset(t.Sub(now))
			wake = timer.C
		}

		select {
		case <-ctx.Done():
			for range runs {
				<-done
			}
			return ctx.Err()
		case evs, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			a.trace(evs)
			core.Add(evs, time.Now())
		case res := <-done:
			b := runs[res.id]
			delete(runs, res.id)
			if a.cfg.Safe {
				locks.remove(b.Items)
			}
			core.Done()
			if res.err != nil {
				core.Requeue(b.Items, time.Now())
			}
			if len(held) > 0 {
				// Checked against the locks again at the next Next.
				core.Requeue(held, time.Now())
				held = nil
			}
			if res.id == servingID {
				reply(serving, flushResult{n: len(b.Items), err: res.err})
				serving, servingID = nil, -1
			}
		case r := <-a.reqs:
			// What was sent before the request comes first: the agent
			// waits for the watcher's Quiesce, which returns once its
			// events are sent, then asks for a Flush that must see them.
			in = a.drain(in, core)
			switch r.kind {
			case reqFlush:
				waiting = append(waiting, r.reply)
			case reqRescan:
				core.Rescan(time.Now())
				r.reply <- flushResult{}
			case reqIdle:
				idle = append(idle, r.reply)
			}
		case <-wake:
		}
	}
}

// publish makes the loop's state the Load other goroutines see.
func (a *Aggregator) publish(core *Core, runs map[int]Batch) {
	l := Load{Running: len(runs)}
	for _, b := range runs {
		l.RunningPaths += len(b.Items)
	}
	for q := range core.queues {
		qu := &core.queues[q]
		l.Queued[q] = qu.len
		if qu.len > 0 && (l.Oldest.IsZero() || qu.first.Before(l.Oldest)) {
			l.Oldest = qu.first
		}
	}
	a.loadMu.Lock()
	a.load = l
	a.loadMu.Unlock()
}

// drain adds the event slices waiting in in, without blocking; it returns
// nil once in is closed.
func (a *Aggregator) drain(in <-chan []event.Event, core *Core) <-chan []event.Event {
	for in != nil {
		select {
		case evs, ok := <-in:
			if !ok {
				return nil
			}
			a.trace(evs)
			core.Add(evs, time.Now())
		default:
			return in
		}
	}
	return nil
}

// trace counts events (Received) and logs them at Debug (-d2).
func (a *Aggregator) trace(evs []event.Event) {
	if a.cfg.Received != nil {
		a.cfg.Received(evs)
	}
	if a.cfg.Logger == nil || !a.cfg.Logger.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	for _, ev := range evs {
		a.cfg.Logger.Debug("event", "path", ev.Path, "op", ev.Op.String(), "dir", ev.IsDir)
	}
}

type runResult struct {
	id  int
	err error
}

// pathLocks knows the paths of the running batches, for --threading=safe:
// a path overlaps when it, one of its ancestors or one of its descendants
// is being synced. Every locked path counts with its whole subtree, which
// errs on the side of waiting.
type pathLocks struct {
	exact map[string]int // locked paths
	below map[string]int // proper ancestors of locked paths
}

func newPathLocks() *pathLocks {
	return &pathLocks{exact: map[string]int{}, below: map[string]int{}}
}

// ancestors calls f for every proper ancestor of p, the root "" included.
func ancestors(p string, f func(string)) {
	if p == "" {
		return
	}
	for i := len(p) - 1; i > 0; i-- {
		if p[i] == '/' {
			f(p[:i])
		}
	}
	f("")
}

func (l *pathLocks) add(items []event.Event) {
	for _, it := range items {
		l.exact[it.Path]++
		ancestors(it.Path, func(a string) { l.below[a]++ })
	}
}

func (l *pathLocks) remove(items []event.Event) {
	for _, it := range items {
		if l.exact[it.Path]--; l.exact[it.Path] <= 0 {
			delete(l.exact, it.Path)
		}
		ancestors(it.Path, func(a string) {
			if l.below[a]--; l.below[a] <= 0 {
				delete(l.below, a)
			}
		})
	}
}

func (l *pathLocks) overlaps(p string) bool {
	if l.exact[p] > 0 || l.below[p] > 0 {
		return true
	}
	hit := false
	ancestors(p, func(a string) { hit = hit || l.exact[a] > 0 })
	return hit
}

// reply answers requests; their channels are buffered, so this never blocks
// even when a caller gave up.
func reply(to []chan flushResult, r flushResult) {
	for _, c := range to {
		c <- r
	}
}

// Flush waits for a running sync to end, then syncs everything queued in
// one run, ignoring -t, -T and -w, and returns how many paths that run had
// and its error (the items are requeued on error). 0 and nil mean nothing
// was queued and no sync was running. Event slices sent to Run before the
// call are queued first.
func (a *Aggregator) Flush(ctx context.Context) (int, error) {
	r, err := a.request(ctx, reqFlush)
	return r.n, err
}

// Rescan queues a full resync of the root in the instant queue: it starts
// as soon as no sync is running, whatever -t and -w say.
func (a *Aggregator) Rescan(ctx context.Context) error {
	_, err := a.request(ctx, reqRescan)
	return err
}

// Idle returns once nothing is queued and no run goes on, after the event
// slices sent to Run before the call are queued. A failed run's paths go
// back to the queue, so Idle waits for their retry.
func (a *Aggregator) Idle(ctx context.Context) error {
	_, err := a.request(ctx, reqIdle)
	return err
}

func (a *Aggregator) request(ctx context.Context, kind requestKind) (flushResult, error) {
	r := request{kind: kind, reply: make(chan flushResult, 1)}
	select {
	case a.reqs <- r:
	case <-ctx.Done():
		return flushResult{}, ctx.Err()
	case <-a.stopped:
		return flushResult{}, ErrStopped
	}
	select {
	case res := <-r.reply:
		return res, res.err
	case <-ctx.Done():
		return flushResult{}, ctx.Err()
	case <-a.stopped:
		// Run may have answered just before it returned.
		select {
		case res := <-r.reply:
			return res, res.err
		default:
			return flushResult{}, ErrStopped
		}
	}
}
