// Package watcher turns kernel file-system notifications into events on
// paths relative to the watched root. It is the only package that talks to
// the kernel's notification interfaces; each one is a backend behind the
// portable Watcher (inotify or fanotify on Linux; inotify or kqueue on
// FreeBSD).
package watcher

import (
	"context"

	"github.com/clsync-go/clsync/event"
)

// Watcher reports the changes below a root directory on Events. It is safe
// for concurrent use.
type Watcher struct {
	b backend
}

// backend is one kernel interface. A backend owns a goroutine that reads
// the kernel, keeps its watches in step with the tree and delivers events.
type backend interface {
	events() <-chan []event.Event
	// err is why the backend stopped, once events is closed.
	err() error
	close() error
	watches() int
	// overflows is how many times the kernel's queue overflowed and a
	// re-walk repaired it.
	overflows() uint64
	pinned() Root
	kind() Backend
	quiesce(ctx context.Context) error
	reconcile(ctx context.Context) error
	// done is closed once the backend's goroutine has ended.
	done() <-chan struct{}
}

// New watches the whole tree (honouring Options.Monitor) before it returns,
// so that the caller can start its initial sync then and lose nothing:
// every change made after New started walking is reported by a later event.
// It fails on any error that would leave a directory unwatched. ctx stops
// the watcher when it is done.
func New(ctx context.Context, opts Options) (*Watcher, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	b, err := newBackend(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Watcher{b: b}, nil
}

// Events delivers one slice per kernel read (after move pairing), and one
// per finished scan of a new directory or re-walk. It is closed when the
// watcher stops; Err then says why. The caller must receive promptly: the
// kernel queues what happens meanwhile, and an overflow costs a re-walk.
func (w *Watcher) Events() <-chan []event.Event { return w.b.events() }

// Err returns, once Events is closed, the reason the watcher stopped: nil
// after Close or the end of New's context, else a fatal error (a *RootError,
// a *WatchError, or a failure to read the kernel) after which the tree is no
// longer mirrored faithfully.
func (w *Watcher) Err() error { return w.b.err() }

// Done is closed once the watcher has stopped (Events is closed, and Err
// says why).
func (w *Watcher) Done() <-chan struct{} { return w.b.done() }

// Close stops the watcher, waits for its goroutine to end and releases the
// kernel resources. It may be called more than once.
func (w *Watcher) Close() error { return w.b.close() }

// Quiesce returns once every change made before the call has been
// delivered on Events: the kernel queue as it was at the call has been
// read, and the walks of new directories, the pairing of renames and the
// re-walk after an overflow that those events started are done and
// reported. Changes made meanwhile do not hold it up, so it returns on a
// busy tree too. It returns ctx's error, or the watcher's once it stopped.
func (w *Watcher) Quiesce(ctx context.Context) error { return w.b.quiesce(ctx) }

// Reconcile applies changed rules: it walks the tree with what Walk and
// Monitor say now, watches the directories that became walked, drops those
// no longer walked, and reports a Rescan of each directory that became
// walked or monitored (what changed in it was not reported). It returns
// once that is done and delivered on Events.
func (w *Watcher) Reconcile(ctx context.Context) error { return w.b.reconcile(ctx) }

// Watches returns the number of kernel watches held.
func (w *Watcher) Watches() int { return w.b.watches() }

// Overflows is how many times the kernel's event queue overflowed so far
// (each repaired by a re-walk, nothing lost); safe from any goroutine.
func (w *Watcher) Overflows() uint64 { return w.b.overflows() }

// Backend is the kernel interface in use (what Auto or the default chose).
func (w *Watcher) Backend() Backend { return w.b.kind() }

// Root is the watched directory as New pinned it.
func (w *Watcher) Root() Root { return w.b.pinned() }
