//go:build linux

package watcher

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/clsync-go/clsync/event"
)

// keptWatches is a Kernel whose rm_watch succeeds but whose IN_IGNORED never
// comes, as when an overflow lost it.
type keptWatches struct{ removed int }

func (k *keptWatches) Instance() (int, error)                      { return -1, nil }
func (k *keptWatches) AddWatch(int, string, uint32) (int32, error) { return 0, nil }
func (k *keptWatches) RemoveWatch(int32) error                     { k.removed++; return nil }

// An overflow on a tree of 100k directories does work for what left the tree
// (the watches whose IN_IGNORED it may have lost), not for the whole wd
// table: a storm can overflow the queue on every read.
func TestOverflowWorkIsProportional(t *testing.T) {
	const dirs = 100_000
	kernel := &keptWatches{}
	w := &treeWatcher{opts: Options{Kernel: kernel}, log: slog.New(slog.DiscardHandler), activeJobs: make(map[*job]struct{})}
	j := w.newJob(jobDir, event.Event{})
	w.adopt(1, nil, "", j)
	// 1000 top directories of 99 leaves each.
	var tops []*node
	wd := int32(2)
	for i := 0; int(wd) <= dirs; i++ {
		top := w.adopt(wd, w.root, fmt.Sprintf("t%d", i), j)
		tops = append(tops, top)
		wd++
		for l := 0; l < 99 && int(wd) <= dirs; l++ {
			w.adopt(wd, top, fmt.Sprintf("l%d", l), j)
			wd++
		}
	}
	if got := w.nwatches.Load(); got != dirs {
		t.Fatalf("%d watches, want %d", got, dirs)
	}
	// A top directory with its 99 leaves leaves the tree, and a leaf of another.
	w.drop(tops[7])
	w.drop(w.child(tops[8], "l0"))
	want := 100 + 1
	if kernel.removed != want || len(w.awaitIgnored) != want {
		t.Fatalf("%d rm_watch calls, %d awaiting IN_IGNORED; want %d each", kernel.removed, len(w.awaitIgnored), want)
	}
	if err := w.overflowed(time.Now()); err != nil {
		t.Fatal(err)
	}
	if len(w.awaitIgnored) != 0 {
		t.Errorf("%d nodes still await their IN_IGNORED after the overflow", len(w.awaitIgnored))
	}
	if got := w.nwatches.Load(); got != dirs-int64(want) {
		t.Errorf("%d watches after the overflow, want %d", got, dirs-want)
	}
	// A second overflow has nothing to forget: its work does not depend on
	// the tree's size.
	if n := w.reapDetached(); n != 0 {
		t.Errorf("a second overflow forgot %d watches, want 0", n)
	}
}
