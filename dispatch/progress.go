package dispatch

import (
	"context"
	"sync/atomic"

	"github.com/clsync-go/clsync/event"
)

// ProgressConfig says what a Progress counts towards.
type ProgressConfig struct {
	// SkipInitial (--skip-initialsync): no initial sync is awaited.
	SkipInitial bool
	// MaxIterations (--max-iterations) ends the run after that many
	// successful syncs, the initial one included; 0 never does.
	MaxIterations int
	// BeforeLast runs before the last of MaxIterations syncs (clsync runs
	// --pre-exit-hook there).
	BeforeLast func(ctx context.Context)
	// Finished is called once MaxIterations syncs succeeded.
	Finished func()
	Status   Status
}

// Progress tracks the initial sync and counts iterations. The initial sync
// is the batch that carries the root rescan while the initial sync is
// pending, not merely the first batch: events read before the rescan was
// queued may make an ordinary batch come first. Two root batches never run
// at once (one sync at a time, or --threading's path locks).
type Progress struct {
	next       Handler
	cfg        ProgressConfig
	pending    atomic.Bool
	done       chan struct{}
	iterations atomic.Int64 // successful syncs, the initial one included
}

// NewProgress wraps next.
func NewProgress(next Handler, cfg ProgressConfig) *Progress {
	p := &Progress{next: next, cfg: cfg, done: make(chan struct{})}
	if cfg.SkipInitial {
		close(p.done)
	} else {
		p.pending.Store(true)
	}
	return p
}

// Sync syncs items, marking the initial sync as such.
func (p *Progress) Sync(ctx context.Context, items []event.Event, initial bool) error {
	initial = initial || p.pending.Load() && rootRescan(items)
	if initial {
		p.cfg.Status.Set("initsync")
	}
	if max := int64(p.cfg.MaxIterations); max > 1 && p.iterations.Load() == max-1 && p.cfg.BeforeLast != nil {
		p.cfg.BeforeLast(ctx)
	}
	if err := p.next.Sync(ctx, items, initial); err != nil {
		return err
	}
	n := p.iterations.Add(1)
	p.cfg.Status.Set("running")
	if initial && p.pending.CompareAndSwap(true, false) {
		close(p.done)
	}
	if max := int64(p.cfg.MaxIterations); max > 0 && n == max && p.cfg.Finished != nil {
		p.cfg.Finished()
	}
	return nil
}

// InitialDone is closed once the initial sync succeeded (at once with
// SkipInitial).
func (p *Progress) InitialDone() <-chan struct{} { return p.done }

// Iteration is clsync's CLSYNC_ITERATION: the syncs done after the initial
// one.
func (p *Progress) Iteration() int {
	n := p.iterations.Load()
	if !p.cfg.SkipInitial && n > 0 {
		n--
	}
	return int(n)
}

// rootRescan tells whether a batch syncs the whole tree. Items are sorted,
// so the root comes first.
func rootRescan(items []event.Event) bool {
	return len(items) > 0 && items[0].Path == "" && items[0].Op&event.Rescan != 0
}
