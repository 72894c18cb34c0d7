//go:build linux

package watcher

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clsync-go/clsync/event"
)

// quiesce calls Quiesce while it keeps reading events, then takes what was
// delivered before Quiesce returned: after it, r.all holds every event of
// the changes made before the call.
func (r *rec) quiesce() {
	r.t.Helper()
	r.during(func() error { return r.w.quiesce(context.Background()) })
}

// during runs call while it keeps reading events, then takes what was
// delivered before call returned.
func (r *rec) during(call func() error) {
	r.t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	deadline := time.After(waitTimeout)
	for {
		select {
		case b, ok := <-r.w.events():
			if !ok {
				r.t.Fatalf("events closed during the call: %v", r.w.err())
			}
			r.add(b)
			continue
		case err := <-done:
			if err != nil {
				r.t.Fatal(err)
			}
		case <-deadline:
			r.t.Fatalf("the call did not return within %v; reader:\n%s", waitTimeout, readerStacks())
		}
		break
	}
	for {
		select {
		case b := <-r.w.events():
			r.add(b)
		default:
			return
		}
	}
}

// A tree moved in is reported only once its walk is done; Quiesce waits
// for that walk (the agent's --exit-on-no-events exited without it).
func TestQuiesceWaitsForWalks(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	big := filepath.Join(outside, "big")
	for i := range 40 {
		for j := range 50 {
			mkdirAll(t, filepath.Join(big, fmt.Sprintf("d%d/e%d", i, j)))
		}
	}
	writeFile(t, filepath.Join(big, "d39/e49/last"), "x")
	r := start(t, root, Options{})
	rename(t, big, filepath.Join(root, "big"))
	r.quiesce()
	if !has(r.all, is("big", event.Create|event.Rescan, true)) {
		t.Fatalf("Quiesce returned before the moved-in tree was reported:\n%s", dump(r.all))
	}
	if got, want := r.w.watches(), countDirs(t, root); got != want {
		t.Errorf("%d watches after Quiesce, want %d", got, want)
	}
}

// A "moved from" half waits for its partner; Quiesce waits until it is
// paired or has become a removal.
func TestQuiesceWaitsForMoveHalves(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(root, "leaving"), "x")
	r := start(t, root, Options{MovePairTimeout: 300 * time.Millisecond})
	rename(t, filepath.Join(root, "leaving"), filepath.Join(outside, "gone"))
	r.quiesce()
	if !has(r.all, is("leaving", event.Remove, false)) {
		t.Fatalf("Quiesce returned with a move half pending:\n%s", dump(r.all))
	}
}

// Changes that go on after the call do not hold Quiesce up.
func TestQuiesceOnBusyTree(t *testing.T) {
	root := t.TempDir()
	r := start(t, root, Options{})
	stop := make(chan struct{})
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		f, err := os.Create(filepath.Join(root, "busy.log"))
		if err != nil {
			return
		}
		defer f.Close()
		for {
			select {
			case <-stop:
				return
			default:
				f.WriteString("line\n")
			}
		}
	}()
	writeFile(t, filepath.Join(root, "before"), "x")
	r.quiesce()
	close(stop)
	<-writing
	if !has(r.all, is("before", event.Create, false)) {
		t.Fatalf("the change made before Quiesce was not delivered:\n%s", dump(r.all[:min(len(r.all), 50)]))
	}
}

// Quiesce on a closed watcher fails instead of waiting.
func TestQuiesceAfterClose(t *testing.T) {
	w, err := New(context.Background(), Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := w.Quiesce(context.Background()); err != ErrClosed {
		t.Errorf("Quiesce after Close: %v, want ErrClosed", err)
	}
}
