package aggregator

import (
	"context"
	"errors"
	"time"

	"github.com/clsync-go/clsync/watcher"
)

// SyncFunc syncs one batch. Runs never overlap. A non-nil error sends the
// batch's items back to the queue; ctx is cancelled when Run's is.
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
}

type request struct {
	flush bool // otherwise a root rescan
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
func (a *Aggregator) Run(ctx context.Context, in <-chan []watcher.Event) error {
	defer close(a.stopped)
	core := NewCore(a.cfg)
	syncCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Buffered so that a sync goroutine never waits for the loop.
	done := make(chan error, 1)
	var (
		running bool
		batch   Batch
		waiting []chan flushResult // Flush callers not served yet
		serving []chan flushResult // Flush callers the running batch serves
	)
	start := func(b Batch) {
		running, batch = true, b
		go func() { done <- a.sync(syncCtx, b) }()
	}
	// Timers of Go 1.23+ drop a stale expiry on Reset, so one timer serves
	// every wait without draining.
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	for {
		now := time.Now()
		if !running && len(waiting) > 0 {
			if b, ok := core.Flush(now); ok {
				start(b)
				serving, waiting = waiting, nil
			} else {
				reply(waiting, flushResult{})
				waiting = nil
			}
		}
		if !running {
			if b, ok := core.Next(now); ok {
				start(b)
			}
		}
		var wake <-chan time.Time
		if t, ok := core.Wake(now); ok {
			timer.Reset(t.Sub(now))
			wake = timer.C
		}

		select {
		case <-ctx.Done():
			if running {
				<-done
			}
			return ctx.Err()
		case evs, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			core.Add(evs, time.Now())
		case err := <-done:
			running = false
			core.Done()
			if err != nil {
				core.Requeue(batch.Items, time.Now())
			}
			reply(serving, flushResult{n: len(batch.Items), err: err})
			serving, batch = nil, Batch{}
		case r := <-a.reqs:
			if r.flush {
				waiting = append(waiting, r.reply)
			} else {
				core.Rescan(time.Now())
				r.reply <- flushResult{}
			}
		case <-wake:
		}
	}
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
// was queued and no sync was running.
func (a *Aggregator) Flush(ctx context.Context) (int, error) {
	r, err := a.request(ctx, true)
	return r.n, err
}

// Rescan queues a full resync of the root in the instant queue: it starts
// as soon as no sync is running, whatever -t and -w say.
func (a *Aggregator) Rescan(ctx context.Context) error {
	_, err := a.request(ctx, false)
	return err
}

func (a *Aggregator) request(ctx context.Context, flush bool) (flushResult, error) {
	r := request{flush: flush, reply: make(chan flushResult, 1)}
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
