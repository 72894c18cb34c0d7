package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/clsync-go/clsync/event"
)

// RetryConfig is clsync's failure policy.
type RetryConfig struct {
	// Tries is -r: how many times a batch is tried before the failure
	// counts as final; 0 tries until it works.
	Tries int
	// IgnoreFailures (--ignore-failures) does not stop the run on a final
	// failure: the batch goes back to the queue (clsync drops it) and is
	// tried again, never forgotten, with the backoff growing.
	IgnoreFailures bool
	// MinDelay is -w: clsync waits that long between tries, and the
	// backoff never waits less.
	MinDelay time.Duration
	// Stopping ends a wait between tries early (the agent is quitting).
	Stopping <-chan struct{}
	Status   Status
	Logger   *slog.Logger
}

// Backoff bounds: the first retry after a failure waits about base, each
// consecutive failure doubles it, up to max.
const (
	backoffBase = 100 * time.Millisecond
	backoffMax  = 30 * time.Second
)

// backoff is the wait after the n-th consecutive failure: exponential,
// capped, and jittered (half fixed, half random) so that agents failing
// against one destination do not retry in step; never under min.
func backoff(n int, min time.Duration) time.Duration {
	d := backoffMax
	if n < 20 {
		d = backoffBase << (n - 1)
	}
	d = d/2 + rand.N(d/2+1)
	return max(d, min)
}

// retry is the Retry decorator.
type retry struct {
	next Handler
	cfg  RetryConfig
	// failures counts consecutive failed tries, across batches: a
	// destination that stays down is tried less and less often.
	failures atomic.Int64
}

// Retry tries each batch up to cfg.Tries times. Every failure counts,
// whatever else happens in the tree meanwhile, and each is followed by a
// growing wait. A final failure is a *FatalError, or, with IgnoreFailures,
// the handler's error returned after one more wait (the caller requeues the
// batch). Errors of a cancelled ctx and fatal errors pass at once.
func Retry(next Handler, cfg RetryConfig) Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &retry{next: next, cfg: cfg}
}

func (r *retry) Sync(ctx context.Context, items []event.Event, initial bool) error {
	for try := 1; ; try++ {
		err := r.next.Sync(ctx, items, initial)
		if err == nil {
			r.failures.Store(0)
			return nil
		}
		if ctx.Err() != nil || IsFatal(err) {
			return err
		}
		n := int(r.failures.Add(1))
		r.cfg.Status.Set("synchandler error")
		final := r.cfg.Tries != 0 && try >= r.cfg.Tries
		if final && !r.cfg.IgnoreFailures {
			r.cfg.Logger.Error("sync failed", "err", err, "try", try)
			return &FatalError{Err: fmt.Errorf("sync failed, giving up after %d tries (--retries %d): %w", try, r.cfg.Tries, err)}
		}
		wait := backoff(n, r.cfg.MinDelay)
		r.cfg.Logger.Error("sync failed", "err", err, "try", try, "retry_in", wait.Round(time.Millisecond))
		if !r.sleep(ctx, wait) || final {
			return err
		}
	}
}

// sleep waits d; false if ctx ended or the agent is stopping.
func (r *retry) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-r.cfg.Stopping:
		return false
	}
}
