package aggregator

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clsync-go/clsync/event"
)

// call is one SyncFunc call: when (since the bubble's start) and what.
type call struct {
	at time.Duration
	b  string
}

// harness runs an Aggregator inside a synctest bubble. The SyncFunc records
// each call on calls and returns what result says (nil: success).
type harness struct {
	t      *testing.T
	agg    *Aggregator
	in     chan []event.Event
	calls  chan call
	cancel context.CancelFunc
	errc   chan error
}

func startHarness(t *testing.T, cfg Config, result func(ctx context.Context, n int) error) *harness {
	start := time.Now()
	h := &harness{
		t:     t,
		in:    make(chan []event.Event),
		calls: make(chan call, 16),
		errc:  make(chan error, 1),
	}
	n := 0
	h.agg = New(cfg, func(ctx context.Context, b Batch) error {
		n++
		h.calls <- call{time.Since(start), formatBatch(b)}
		if result == nil {
			return nil
		}
		return result(ctx, n)
	})
	ctx, cancel := context.WithCancel(t.Context())
	h.cancel = cancel
	go func() { h.errc <- h.agg.Run(ctx, h.in) }()
	return h
}

func (h *harness) send(evs ...string) {
	h.t.Helper()
	var batch []event.Event
	for _, s := range evs {
		ev, err := parseEvent(s)
		if err != nil {
			h.t.Fatal(err)
		}
		batch = append(batch, ev)
	}
	h.in <- batch
}

// expect waits for the bubble to settle and checks the SyncFunc calls made
// since the previous expect.
func (h *harness) expect(want ...call) {
	h.t.Helper()
	synctest.Wait()
	for _, w := range want {
		select {
		case got := <-h.calls:
			if got != w {
				h.t.Fatalf("sync call %+v, want %+v", got, w)
			}
		default:
			h.t.Fatalf("no sync call, want %+v", w)
		}
	}
	select {
	case got := <-h.calls:
		h.t.Fatalf("unexpected sync call %+v", got)
	default:
	}
}

func (h *harness) stop() {
	h.t.Helper()
	h.cancel()
	if err := <-h.errc; !errors.Is(err, context.Canceled) {
		h.t.Fatalf("Run returned %v, want context.Canceled", err)
	}
}

func TestRunSyncsAtFirstEventPlusCollectDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, Config{CollectDelay: 5 * time.Second, SyncDelay: time.Minute}, nil)
		time.Sleep(time.Second)
		h.send("a:m")
		time.Sleep(2 * time.Second)
		h.send("b:c")
		time.Sleep(3*time.Second - time.Nanosecond)
		h.expect()
		time.Sleep(time.Nanosecond)
		h.expect(call{6 * time.Second, "normal a:m b:c"})
		// -w: the next run starts a minute after this one started.
		h.send("c:m")
		time.Sleep(time.Minute - time.Nanosecond)
		h.expect()
		time.Sleep(time.Nanosecond)
		h.expect(call{66 * time.Second, "normal c:m"})
		h.stop()
	})
}

func TestRunReadsEventsWhileSyncing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		h := startHarness(t, Config{}, func(ctx context.Context, n int) error {
			if n == 1 {
				<-release
			}
			return nil
		})
		h.send("a:m")
		h.expect(call{0, "normal a:m"})
		// The sync is blocked: these sends only complete because Run
		// keeps reading (a stuck loop would deadlock the bubble).
		for range 100 {
			h.send("b:m", "c/d:c")
		}
		time.Sleep(10 * time.Second)
		h.expect()
		close(release)
		h.expect(call{10 * time.Second, "normal b:m c/d:c"})
		h.stop()
	})
}

func TestRunRequeuesFailedBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, Config{SyncDelay: 2 * time.Second}, func(ctx context.Context, n int) error {
			if n == 1 {
				time.Sleep(500 * time.Millisecond)
				return errors.New("rsync: connection refused")
			}
			return nil
		})
		h.send("a:m", "d:R/d")
		h.expect(call{0, "normal a:m d:R/d"})
		time.Sleep(time.Second)
		h.send("d/x:c", "b:m")
		h.expect()
		time.Sleep(time.Second)
		h.expect(call{2 * time.Second, "normal a:m b:m d:R/d"})
		h.stop()
	})
}

func TestRunFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		h := startHarness(t, Config{CollectDelay: time.Hour, SyncDelay: time.Hour}, func(ctx context.Context, n int) error {
			switch n {
			case 2:
				<-release
			case 3:
				return errors.New("flush failed")
			}
			return nil
		})
		ctx := t.Context()
		if n, err := h.agg.Flush(ctx); n != 0 || err != nil {
			t.Fatalf("Flush of nothing = %d, %v", n, err)
		}
		h.send("a:m", "b:c")
		time.Sleep(time.Second)
		if n, err := h.agg.Flush(ctx); n != 2 || err != nil {
			t.Fatalf("Flush = %d, %v, want 2, nil", n, err)
		}
		h.expect(call{time.Second, "normal a:m b:c"})

		// A Flush during a sync waits for it, then syncs what came
		// meanwhile; the sync's error comes back and the items stay
		// queued for the next run.
		type res struct {
			n   int
			err error
		}
		first, second := make(chan res), make(chan res)
		flush := func(c chan res) {
			n, err := h.agg.Flush(ctx)
			c <- res{n, err}
		}
		h.send("c:m")
		go flush(first)
		h.expect(call{time.Second, "normal c:m"})
		h.send("d:m", "e:m")
		go flush(second)
		time.Sleep(time.Second)
		close(release)
		if r := <-first; r != (res{1, nil}) {
			t.Fatalf("first Flush = %+v, want 1 path, no error", r)
		}
		if r := <-second; r.n != 2 || r.err == nil {
			t.Fatalf("second Flush = %+v, want 2 paths and the sync's error", r)
		}
		h.expect(call{2 * time.Second, "normal d:m e:m"})
		if n, err := h.agg.Flush(ctx); n != 2 || err != nil {
			t.Fatalf("Flush after a failure = %d, %v, want 2, nil", n, err)
		}
		h.expect(call{2 * time.Second, "normal d:m e:m"})
		h.stop()
	})
}

func TestRunRescanIsInstant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, Config{CollectDelay: time.Hour, SyncDelay: time.Hour}, nil)
		if err := h.agg.Rescan(t.Context()); err != nil {
			t.Fatal(err)
		}
		h.expect(call{0, "instant .:R/d"})
		h.send("a:m")
		time.Sleep(time.Second)
		if err := h.agg.Rescan(t.Context()); err != nil {
			t.Fatal(err)
		}
		h.expect(call{time.Second, "instant .:R/d"})
		h.stop()
	})
}

func TestRunStopsOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, Config{}, func(ctx context.Context, n int) error {
			<-ctx.Done()
			return ctx.Err()
		})
		h.send("a:m")
		h.expect(call{0, "normal a:m"})
		h.stop()
		if _, err := h.agg.Flush(t.Context()); !errors.Is(err, ErrStopped) {
			t.Fatalf("Flush after Run = %v, want ErrStopped", err)
		}
		if err := h.agg.Rescan(t.Context()); !errors.Is(err, ErrStopped) {
			t.Fatalf("Rescan after Run = %v, want ErrStopped", err)
		}
	})
}

func TestRunKeepsSyncingAfterInputCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, Config{CollectDelay: time.Second}, nil)
		h.send("a:m")
		close(h.in)
		time.Sleep(time.Second)
		h.expect(call{time.Second, "normal a:m"})
		if err := h.agg.Rescan(t.Context()); err != nil {
			t.Fatal(err)
		}
		h.expect(call{time.Second, "instant .:R/d"})
		h.stop()
	})
}

// Events sent before a Flush are in it, even when they still wait in the
// channel's buffer (the agent flushes right after the watcher's Quiesce).
func TestFlushTakesEventsSentBefore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := make(chan []event.Event, 4)
		agg := New(Config{CollectDelay: time.Hour, SyncDelay: time.Hour}, func(ctx context.Context, b Batch) error { return nil })
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go agg.Run(ctx, in)
		for i := range 50 {
			in <- []event.Event{{Path: "f", Op: event.Modify}}
			n, err := agg.Flush(ctx)
			if err != nil || n != 1 {
				t.Fatalf("flush %d: %d items (%v), want the event sent before it", i, n, err)
			}
		}
	})
}

func TestRunIdleWaitsForQueuedAndRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		h := startHarness(t, Config{CollectDelay: 10 * time.Second, SyncDelay: 20 * time.Second}, func(ctx context.Context, n int) error {
			if n == 1 {
				<-release
				return errors.New("rsync: connection refused")
			}
			return nil
		})
		ctx := t.Context()
		if err := h.agg.Idle(ctx); err != nil {
			t.Fatalf("Idle with nothing queued = %v", err)
		}
		h.send("a:m", "b:c")
		idle := make(chan error, 1)
		go func() { idle <- h.agg.Idle(ctx) }()
		synctest.Wait()
		if l := h.agg.Load(); l.Queued[Normal] != 2 || l.Pending() != 2 || !l.Oldest.Equal(time.Now()) {
			t.Fatalf("Load while queued = %+v", l)
		}
		time.Sleep(10 * time.Second)
		h.expect(call{10 * time.Second, "normal a:m b:c"})
		if l := h.agg.Load(); l.Running != 1 || l.RunningPaths != 2 || l.Pending() != 2 || !l.Oldest.IsZero() {
			t.Fatalf("Load while running = %+v", l)
		}
		select {
		case err := <-idle:
			t.Fatalf("Idle returned %v while a run goes on", err)
		default:
		}
		// The run fails: its paths wait for the retry, and so does Idle.
		close(release)
		synctest.Wait()
		select {
		case err := <-idle:
			t.Fatalf("Idle returned %v with the failed paths queued", err)
		default:
		}
		time.Sleep(20 * time.Second)
		h.expect(call{30 * time.Second, "normal a:m b:c"})
		if err := <-idle; err != nil {
			t.Fatal(err)
		}
		if l := h.agg.Load(); l.Pending() != 0 {
			t.Fatalf("Load when idle = %+v", l)
		}
		h.stop()
	})
}
