// Package dispatch is the policy between the aggregator and a sync handler:
// retries with backoff, the watch dir's identity, --standby-file,
// --modification-signature, the initial sync and iteration counts, the -k
// timeout and the quit gate. Each is a decorator around a Handler, so that
// the agent composes the policy it needs and each piece is tested alone
// with a fake handler.
package dispatch

import (
	"context"
	"errors"

	"github.com/clsync-go/clsync/event"
)

// Handler syncs batches: a sync handler mode, or a decorator around one.
// Sync may be called concurrently for batches that share no path
// (--threading); initial marks the initial sync of the whole tree.
type Handler interface {
	Sync(ctx context.Context, items []event.Event, initial bool) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, items []event.Event, initial bool) error

// Sync calls f.
func (f HandlerFunc) Sync(ctx context.Context, items []event.Event, initial bool) error {
	return f(ctx, items, initial)
}

// Status receives clsync's state words ("initsync", "running", "synchandler
// error", "hold on", ...), which --status-file and the handler's
// CLSYNC_STATUS publish.
type Status interface {
	Set(word string)
}

// FatalError ends the run: a sync that failed --retries times without
// --ignore-failures, or a watch dir that is no longer the one watched. The
// dispatcher returns it; the agent stops on it.
type FatalError struct{ Err error }

func (e *FatalError) Error() string { return e.Err.Error() }
func (e *FatalError) Unwrap() error { return e.Err }

// IsFatal tells whether err ends the run.
func IsFatal(err error) bool {
	var f *FatalError
	return errors.As(err, &f)
}

// phase is the state word of a running sync.
func phase(initial bool) string {
	if initial {
		return "initsync"
	}
	return "running"
}
