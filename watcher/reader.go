package watcher

import (
	"context"
	"log/slog"
	"sync"

	"github.com/clsync-go/clsync/event"
)

// readerState is what every backend's reader goroutine shares with the
// goroutines that use the Watcher: the channel of events, the Quiesce and
// Reconcile calls not taken yet, how the reader is woken and stopped, and
// why it stopped. A backend embeds it and gets events, err, close, done,
// quiesce and reconcile from it.
type readerState struct {
	ch chan []event.Event
	// mu orders wakeReader before the reader releases its descriptors
	// (see releaseFds), and guards the fields up to newReconciles.
	mu            sync.Mutex
	released      bool
	newBarriers   []chan struct{} // Quiesce calls the reader has not taken yet
	newReconciles []chan struct{} // Reconcile calls likewise
	// wakeReader ends the reader's wait for the kernel; called under mu,
	// never once released.
	wakeReader func()
	stop       chan struct{}
	stopOnce   sync.Once
	stopCtx    func() bool
	exited     chan struct{}
	errMu      sync.Mutex
	stopErr    error // why the reader stopped; set before ch is closed
	closeErr   error // from releasing the descriptors; set before exited is closed
}

func newReaderState(wakeReader func()) readerState {
	return readerState{ch: make(chan []event.Event, 16), wakeReader: wakeReader,
		stop: make(chan struct{}), exited: make(chan struct{})}
}

// start runs loop as the reader goroutine; ctx's end stops it like close.
// Once loop returns, free closes the backend's descriptors (see releaseFds).
func (r *readerState) start(ctx context.Context, log *slog.Logger, loop func() error, free func() error) {
	r.stopCtx = context.AfterFunc(ctx, r.wake)
	go func() {
		err := loop()
		if err != nil {
			log.Error("watcher stopped", "err", err)
		}
		r.errMu.Lock()
		r.stopErr = err
		r.errMu.Unlock()
		r.closeErr = r.releaseFds(free)
		close(r.ch)
		close(r.exited)
	}()
}

// releaseFds runs f once no poke can reach the descriptors it closes.
func (r *readerState) releaseFds(f func() error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.released = true
	return f()
}

func (r *readerState) events() <-chan []event.Event { return r.ch }

func (r *readerState) err() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.stopErr
}

func (r *readerState) close() error {
	r.stopCtx()
	r.wake()
	<-r.exited
	return r.closeErr
}

func (r *readerState) done() <-chan struct{} { return r.exited }

func (r *readerState) quiesce(ctx context.Context) error { return r.ask(ctx, &r.newBarriers) }

func (r *readerState) reconcile(ctx context.Context) error { return r.ask(ctx, &r.newReconciles) }

// ask queues a call on calls (Quiesce's or Reconcile's), wakes the reader
// and waits for its reply, ctx, or the end of the reader.
func (r *readerState) ask(ctx context.Context, calls *[]chan struct{}) error {
	reply := make(chan struct{})
	r.mu.Lock()
	*calls = append(*calls, reply)
	r.mu.Unlock()
	r.poke()
	select {
	case <-reply:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.exited:
		select {
		case <-reply:
			return nil
		default:
		}
		if err := r.err(); err != nil {
			return err
		}
		return ErrClosed
	}
}

// take takes the calls queued on calls since the last time.
func (r *readerState) take(calls *[]chan struct{}) []chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	taken := *calls
	*calls = nil
	return taken
}

// wake stops the reader.
func (r *readerState) wake() {
	r.stopOnce.Do(func() {
		close(r.stop)
		r.poke()
	})
}

// poke ends the reader's wait, so that it looks at stop and the new calls.
func (r *readerState) poke() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.released {
		r.wakeReader()
	}
}

// stopping tells whether the reader is to stop.
func (r *readerState) stopping() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// deliver sends out to the consumer; false when the reader is to stop
// instead. Blocking on a slow consumer is bounded by its promise to
// receive promptly; meanwhile the kernel queues events.
func (r *readerState) deliver(out []event.Event) bool {
	select {
	case r.ch <- out:
		return true
	case <-r.stop:
		return false
	}
}
