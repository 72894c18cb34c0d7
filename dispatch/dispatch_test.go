package dispatch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clsync-go/clsync/event"
)

// fake is a handler that records its calls and answers with results in turn
// (the last one repeats; none: success).
type fake struct {
	mu      sync.Mutex
	start   time.Time
	calls   []time.Duration // since start
	initial []bool
	batches [][]string
	results []error
	during  func() // runs inside each call
}

func newFake(results ...error) *fake { return &fake{start: time.Now(), results: results} }

func (f *fake) Sync(ctx context.Context, items []event.Event, initial bool) error {
	if f.during != nil {
		f.during()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, time.Since(f.start))
	f.initial = append(f.initial, initial)
	var paths []string
	for _, it := range items {
		paths = append(paths, it.Path)
	}
	f.batches = append(f.batches, paths)
	if len(f.results) == 0 {
		return nil
	}
	err := f.results[0]
	if len(f.results) > 1 {
		f.results = f.results[1:]
	}
	return err
}

func (f *fake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// words records status words.
type words struct {
	mu   sync.Mutex
	list []string
}

func (w *words) Set(word string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.list); n == 0 || w.list[n-1] != word {
		w.list = append(w.list, word)
	}
}

func (w *words) get() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.list)
}

func items(paths ...string) []event.Event {
	var out []event.Event
	for _, p := range paths {
		out = append(out, event.Event{Path: p, Op: event.Modify})
	}
	return out
}

var errHandler = errors.New("handler failed")

// Every failure counts against -r, and the run stops after the last try.
func TestRetryGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tries := range []int{1, 3} {
			f := newFake(errHandler)
			st := &words{}
			err := Retry(f, RetryConfig{Tries: tries, Status: st}).Sync(t.Context(), items("a"), false)
			if !IsFatal(err) || !errors.Is(err, errHandler) {
				t.Errorf("-r%d: err %v, want a fatal error wrapping the handler's", tries, err)
			}
			if f.count() != tries {
				t.Errorf("-r%d: %d tries", tries, f.count())
			}
			if !slices.Contains(st.get(), "synchandler error") {
				t.Errorf("-r%d: status %v", tries, st.get())
			}
		}
	})
}

// Tries are spaced by a growing, jittered backoff, never less than -w.
func TestRetryBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(errHandler, errHandler, errHandler, errHandler, nil)
		if err := Retry(f, RetryConfig{Tries: 0, Status: &words{}}).Sync(t.Context(), items("a"), false); err != nil {
			t.Fatal(err)
		}
		if f.count() != 5 {
			t.Fatalf("%d calls, want 5", f.count())
		}
		for i := 1; i < len(f.calls); i++ {
			gap := f.calls[i] - f.calls[i-1]
			full := backoffBase << (i - 1)
			if gap < full/2 || gap > full {
				t.Errorf("wait before try %d: %v, want between %v and %v", i+1, gap, full/2, full)
			}
		}
		f = newFake(errHandler, nil)
		if err := Retry(f, RetryConfig{Tries: 2, MinDelay: 7 * time.Second, Status: &words{}}).Sync(t.Context(), items("a"), false); err != nil {
			t.Fatal(err)
		}
		if gap := f.calls[1] - f.calls[0]; gap != 7*time.Second {
			t.Errorf("wait with -w7: %v", gap)
		}
	})
}

// --ignore-failures: a batch that fails -r times is handed back (the
// aggregator requeues it) after a wait, and the backoff keeps growing over
// the batches while the destination stays down; a success resets it.
func TestRetryIgnoreFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(errHandler)
		r := Retry(f, RetryConfig{Tries: 1, IgnoreFailures: true, Status: &words{}})
		var ends []time.Duration
		start := time.Now()
		for range 4 {
			err := r.Sync(t.Context(), items("a"), false)
			if !errors.Is(err, errHandler) || IsFatal(err) {
				t.Fatalf("err %v, want the handler's, not fatal", err)
			}
			ends = append(ends, time.Since(start))
		}
		for i := 1; i < len(ends); i++ {
			if gap := ends[i] - ends[i-1]; gap < backoffBase<<i/2 {
				t.Errorf("batch %d came back after %v: the backoff does not grow", i+1, gap)
			}
		}
		f.mu.Lock()
		f.results = []error{nil}
		f.mu.Unlock()
		if err := r.Sync(t.Context(), items("a"), false); err != nil {
			t.Fatal(err)
		}
		if n := r.(*retry).failures.Load(); n != 0 {
			t.Errorf("%d failures remembered after a success", n)
		}
	})
}

// A wait between tries ends when the agent stops or ctx ends.
func TestRetryStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stopping := make(chan struct{})
		f := newFake(errHandler)
		done := make(chan error)
		go func() {
			done <- Retry(f, RetryConfig{Tries: 0, MinDelay: time.Hour, Stopping: stopping, Status: &words{}}).Sync(t.Context(), items("a"), false)
		}()
		synctest.Wait()
		close(stopping)
		if err := <-done; !errors.Is(err, errHandler) {
			t.Errorf("err %v", err)
		}
		if f.count() != 1 {
			t.Errorf("%d tries after stopping", f.count())
		}
	})
}

func TestRootGuard(t *testing.T) {
	f := newFake()
	gone := errors.New("root gone")
	check := func() error { return gone }
	err := Retry(RootGuard(f, check), RetryConfig{Tries: 0, Status: &words{}}).Sync(t.Context(), items("a"), false)
	if !IsFatal(err) || !errors.Is(err, gone) || f.count() != 0 {
		t.Errorf("err %v after %d calls, want a fatal error and no call", err, f.count())
	}
}

func TestTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		blocking := HandlerFunc(func(ctx context.Context, _ []event.Event, _ bool) error {
			<-ctx.Done()
			return ctx.Err()
		})
		start := time.Now()
		err := Timeout(blocking, 5*time.Second).Sync(t.Context(), items("a"), false)
		if err == nil || !strings.Contains(err.Error(), "-k") || time.Since(start) != 5*time.Second {
			t.Errorf("err %v after %v", err, time.Since(start))
		}
		if Timeout(newFake(), 0).Sync(t.Context(), items("a"), false) != nil {
			t.Error("no timeout failed")
		}
	})
}

func TestStandby(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "standby")
		if err := os.WriteFile(file, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		f := newFake()
		st := &words{}
		stopping := make(chan struct{})
		h := Standby(f, file, nil, st, stopping)
		done := make(chan error)
		go func() { done <- h.Sync(t.Context(), items("a"), false) }()
		time.Sleep(time.Minute)
		synctest.Wait()
		if f.count() != 0 || !slices.Equal(st.get(), []string{"hold on"}) {
			t.Fatalf("synced while the standby file exists (%d calls, status %v)", f.count(), st.get())
		}
		os.Remove(file)
		if err := <-done; err != nil || f.count() != 1 {
			t.Fatalf("err %v, %d calls", err, f.count())
		}
		if !slices.Equal(st.get(), []string{"hold on", "running"}) {
			t.Errorf("status %v", st.get())
		}
		os.WriteFile(file, nil, 0o644)
		go func() { done <- h.Sync(t.Context(), items("a"), false) }()
		synctest.Wait()
		close(stopping)
		if err := <-done; !errors.Is(err, ErrStopping) {
			t.Errorf("held sync at stop: %v", err)
		}
	})
}

// A Hold holds syncs from Put to Lift, with the standby file or alone.
func TestHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "standby")
		f := newFake()
		st := &words{}
		hold := &Hold{}
		h := Standby(f, file, hold, st, make(chan struct{}))
		if err := h.Sync(t.Context(), items("a"), false); err != nil || f.count() != 1 {
			t.Fatalf("lifted hold: err %v, %d calls", err, f.count())
		}
		hold.Put()
		hold.Put()
		done := make(chan error)
		go func() { done <- h.Sync(t.Context(), items("a"), false) }()
		time.Sleep(time.Hour)
		synctest.Wait()
		if f.count() != 1 || !hold.Held() {
			t.Fatalf("synced while held (%d calls)", f.count())
		}
		// Lifted while the standby file exists: the file still holds.
		os.WriteFile(file, nil, 0o644)
		hold.Lift()
		time.Sleep(time.Minute)
		synctest.Wait()
		if f.count() != 1 {
			t.Fatal("synced while the standby file exists")
		}
		os.Remove(file)
		if err := <-done; err != nil || f.count() != 2 {
			t.Fatalf("err %v, %d calls", err, f.count())
		}
		if !slices.Equal(st.get(), []string{"hold on", "running"}) {
			t.Errorf("status %v", st.get())
		}
		hold.Lift()
	})
}

// Progress marks the root-rescan batch as the initial sync (not merely the
// first batch), counts iterations and stops after --max-iterations, running
// the pre-exit hook before the last.
func TestProgress(t *testing.T) {
	f := newFake()
	st := &words{}
	var order []string
	f.during = func() { order = append(order, "sync") }
	finished := false
	p := NewProgress(f, ProgressConfig{MaxIterations: 3, Status: st,
		BeforeLast: func(context.Context) { order = append(order, "hook") },
		Finished:   func() { finished = true }})
	rescan := []event.Event{{Path: "", Op: event.Rescan, IsDir: true}}
	steps := []struct {
		items   []event.Event
		initial bool
	}{{items("x"), false}, {rescan, true}, {rescan, false}}
	for i, s := range steps {
		select {
		case <-p.InitialDone():
			if i < 2 {
				t.Fatalf("initial sync done before it ran (step %d)", i)
			}
		default:
		}
		if err := p.Sync(t.Context(), s.items, false); err != nil {
			t.Fatal(err)
		}
		if f.initial[i] != s.initial {
			t.Errorf("step %d: initial = %v", i, f.initial[i])
		}
	}
	if !finished || !slices.Equal(order, []string{"sync", "sync", "hook", "sync"}) {
		t.Errorf("finished %v, order %v", finished, order)
	}
	if p.Iteration() != 2 {
		t.Errorf("CLSYNC_ITERATION %d, want 2", p.Iteration())
	}
}

// Closing the gate waits for the running sync and refuses new ones. (Not in
// a synctest bubble: a goroutine waiting on a mutex is not durably blocked.)
func TestGate(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	var finished atomic.Bool
	running := HandlerFunc(func(ctx context.Context, _ []event.Event, _ bool) error {
		close(started)
		<-release
		finished.Store(true)
		return nil
	})
	stopping := make(chan struct{})
	g := NewGate(running, stopping)
	done := make(chan error)
	go func() { done <- g.Sync(t.Context(), items("a"), false) }()
	<-started
	closed := make(chan bool)
	go func() { g.Close(); closed <- finished.Load() }()
	<-stopping
	close(release)
	if !<-closed {
		t.Error("Close returned before the running sync ended")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := g.Sync(t.Context(), items("b"), false); !errors.Is(err, ErrStopping) {
		t.Errorf("sync after Close: %v", err)
	}
}
