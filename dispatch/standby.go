package dispatch

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"time"

	"github.com/clsync-go/clsync/event"
)

// standbyPoll is how often a present --standby-file is checked again.
const standbyPoll = 200 * time.Millisecond

// ErrStopping is returned instead of syncing once the agent stops.
var ErrStopping = errors.New("dispatch: stopping")

// Standby holds syncs while the file path exists (--standby-file, clsync's
// "hold on"); stopping ends the wait.
func Standby(next Handler, path string, status Status, stopping <-chan struct{}) Handler {
	if path == "" {
		return next
	}
	return HandlerFunc(func(ctx context.Context, items []event.Event, initial bool) error {
		held := false
		t := time.NewTimer(0)
		defer t.Stop()
		for {
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				break
			}
			if !held {
				held = true
				status.Set("hold on")
			}
			t.Reset(standbyPoll)
			select {
			case <-t.C:
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
