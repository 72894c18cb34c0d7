package aggregator

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/clsync-go/clsync/event"
)

// parallelRun records which batches are running and lets the test end them.
type parallelRun struct {
	mu      sync.Mutex
	running map[string]chan struct{}
	started []string
}

func (p *parallelRun) sync(ctx context.Context, b Batch) error {
	var paths []string
	for _, it := range b.Items {
		paths = append(paths, it.Path)
	}
	key := strings.Join(paths, ",")
	release := make(chan struct{})
	p.mu.Lock()
	p.running[key] = release
	p.started = append(p.started, key)
	p.mu.Unlock()
	select {
	case <-release:
	case <-ctx.Done():
	}
	p.mu.Lock()
	delete(p.running, key)
	p.mu.Unlock()
	return nil
}

func (p *parallelRun) snapshot() (running []string, started []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.running {
		running = append(running, k)
	}
	return running, append([]string(nil), p.started...)
}

func (p *parallelRun) finish(t *testing.T, key string) {
	t.Helper()
	p.mu.Lock()
	release, ok := p.running[key]
	p.mu.Unlock()
	if !ok {
		t.Fatalf("%q is not running", key)
	}
	close(release)
}

func TestParallelRuns(t *testing.T) {
	for _, safe := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			p := &parallelRun{running: map[string]chan struct{}{}}
			agg := New(Config{Parallel: 2, Safe: safe}, p.sync)
			in := make(chan []event.Event)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			go agg.Run(ctx, in)

			in <- []event.Event{{Path: "a", Op: event.Create | event.Rescan, IsDir: true}}
			synctest.Wait()
			in <- []event.Event{{Path: "b", Op: event.Create}}
			synctest.Wait()
			if running, _ := p.snapshot(); len(running) != 2 {
				t.Fatalf("safe=%v: running %q, want a and b at once", safe, running)
			}
			// a/x lies below the running a.
			in <- []event.Event{{Path: "a/x", Op: event.Modify}}
			synctest.Wait()
			running, _ := p.snapshot()
			if safe && len(running) != 2 {
				t.Fatalf("safe: a/x started while a runs: %q", running)
			}
			p.finish(t, "b")
			synctest.Wait()
			running, started := p.snapshot()
			if safe {
				if len(running) != 1 || running[0] != "a" {
					t.Fatalf("safe: a/x must wait for a, running %q", running)
				}
				p.finish(t, "a")
				synctest.Wait()
				_, started = p.snapshot()
				if started[len(started)-1] != "a/x" {
					t.Fatalf("safe: a/x never ran after a: %q", started)
				}
			} else if started[len(started)-1] != "a/x" {
				t.Fatalf("full: a/x did not run beside a: %q", started)
			}
		})
	}
}

func TestPathLocks(t *testing.T) {
	l := newPathLocks()
	l.add([]event.Event{{Path: "a/b"}})
	for p, want := range map[string]bool{"a/b": true, "a": true, "": true, "a/b/c": true, "a/c": false, "b": false, "a/bc": false} {
		if got := l.overlaps(p); got != want {
			t.Errorf("overlaps(%q) = %v, want %v", p, got, want)
		}
	}
	l.remove([]event.Event{{Path: "a/b"}})
	if l.overlaps("a") || len(l.exact) != 0 || len(l.below) != 0 {
		t.Errorf("locks left after remove: %v %v", l.exact, l.below)
	}
	l.add([]event.Event{{Path: ""}})
	if !l.overlaps("anything/below") {
		t.Error("a running root must hold everything")
	}
}
