package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clsync-go/clsync/event"
)

// RootGuard checks the watch dir before every try (check is
// watcher.Root.Check): a sync never runs on a directory that took the watch
// dir's place, or on the empty mount point an unmount left, which would
// mirror an empty tree over the destination. A failed check is fatal.
func RootGuard(next Handler, check func() error) Handler {
	return HandlerFunc(func(ctx context.Context, items []event.Event, initial bool) error {
		if err := check(); err != nil {
			return &FatalError{Err: fmt.Errorf("not syncing: %w", err)}
		}
		return next.Sync(ctx, items, initial)
	})
}

// errTimeout is the cause of a context that -k ended.
var errTimeout = errors.New("sync timeout (-k)")

// Timeout ends a try that runs longer than d (-k): the handler's context is
// cancelled, which kills its process group. d <= 0 means no limit.
func Timeout(next Handler, d time.Duration) Handler {
	if d <= 0 {
		return next
	}
	return HandlerFunc(func(ctx context.Context, items []event.Event, initial bool) error {
		tctx, cancel := context.WithTimeoutCause(ctx, d, errTimeout)
		defer cancel()
		err := next.Sync(tctx, items, initial)
		if err != nil && ctx.Err() == nil && context.Cause(tctx) == errTimeout {
			return fmt.Errorf("sync killed after the %s timeout (-k): %w", d, err)
		}
		return err
	})
}
