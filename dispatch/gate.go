package dispatch

import (
	"context"
	"sync"

	"github.com/clsync-go/clsync/event"
)

// Gate lets syncs through until it is closed, and runs things between
// syncs. It is the outermost decorator: quitting waits for the sync that is
// running and starts no other.
type Gate struct {
	next     Handler
	mu       sync.RWMutex // held for reading by every sync
	closed   bool
	stopping chan struct{}
	once     sync.Once
}

// NewGate wraps next. stopping is the channel the decorators inside were
// given to end their waits early; Close closes it.
func NewGate(next Handler, stopping chan struct{}) *Gate {
	return &Gate{next: next, stopping: stopping}
}

// Sync syncs items, or returns ErrStopping once the gate is closed.
func (g *Gate) Sync(ctx context.Context, items []event.Event, initial bool) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return ErrStopping
	}
	return g.next.Sync(ctx, items, initial)
}

// Between runs fn while no sync runs (the pre-exit hook).
func (g *Gate) Between(fn func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	fn()
}

// Close tells the decorators inside that the agent is stopping (a wait for
// a retry or for the standby file ends), waits for the running syncs and
// lets no other start.
func (g *Gate) Close() {
	g.once.Do(func() { close(g.stopping) })
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}
