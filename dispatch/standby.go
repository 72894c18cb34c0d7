package dispatch

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/clsync-go/clsync/event"
)

// standbyPoll is how often a present --standby-file is checked again.
const standbyPoll = 200 * time.Millisecond

// ErrStopping is returned instead of syncing once the agent stops.
var ErrStopping = errors.New("dispatch: stopping")

// Hold is a hold on syncing that an operator puts and lifts (clsync ctl
// pause and resume). The zero Hold is lifted.
type Hold struct {
	mu      sync.Mutex
	lifted  chan struct{} // closed when the hold put last is lifted
	holding bool
}

// Put holds every sync that has not started yet; a running one ends.
func (h *Hold) Put() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.holding {
		h.holding, h.lifted = true, make(chan struct{})
	}
}

// Lift lets the held syncs go.
func (h *Hold) Lift() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.holding {
		h.holding = false
		close(h.lifted)
	}
}

// Held tells whether the hold is on.
func (h *Hold) Held() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.holding
}

// wait is nil when the hold is lifted, otherwise closed when it is.
func (h *Hold) wait() <-chan struct{} {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.holding {
		return nil
	}
	return h.lifted
}

// Standby holds syncs while the file path exists (--standby-file, clsync's
// "hold on") or while hold is on; stopping ends the wait.
func Standby(next Handler, path string, hold *Hold, status Status, stopping <-chan struct{}) Handler {
	if path == "" && hold == nil {
		return next
	}
	return HandlerFunc(func(ctx context.Context, items []event.Event, initial bool) error {
		held := false
		t := time.NewTimer(0)
		t.Stop()
		defer t.Stop()
		for {
			lifted := hold.wait()
			var poll <-chan time.Time
			if path != "" {
				if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
					t.Reset(standbyPoll)
					poll = t.C
				}
			}
			if lifted == nil && poll == nil {
				break
			}
			if !held {
				held = true
				status.Set("hold on")
			}
			select {
			case <-lifted:
			case <-poll:
			case <-ctx.Done():
				return ctx.Err()
			case <-stopping:
				return ErrStopping
			}
		}
		if held {
			status.Set(phase(initial))
		}
		return next.Sync(ctx, items, initial)
	})
}
