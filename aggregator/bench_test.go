package aggregator

import (
	"fmt"
	"testing"
	"time"

	"github.com/clsync-go/clsync/event"
)

// benchEvents spreads n modify events over dirs directories, n/dirs files
// each, in slices of 64 as a watcher read would deliver them.
func benchEvents(n, dirs int) [][]event.Event {
	var out [][]event.Event
	var cur []event.Event
	for i := range n {
		cur = append(cur, event.Event{
			Path: fmt.Sprintf("src/d%05d/f%05d", i%dirs, i/dirs),
			Op:   event.Modify,
			Mask: 2,
		})
		if len(cur) == 64 {
			out = append(out, cur)
			cur = nil
		}
	}
	return append(out, cur)
}

func perEvent(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/event")
}

// BenchmarkAdd queues distinct paths (no collapse: both bounds are raised) at
// several sizes; ns/event stays flat if Add is O(1) amortized.
func BenchmarkAdd(b *testing.B) {
	for _, n := range []int{10000, 100000, 1000000} {
		b.Run(fmt.Sprintf("events=%d/dirs=%d", n, n/10), func(b *testing.B) {
			evs := benchEvents(n, n/10)
			b.ReportAllocs()
			for b.Loop() {
				c := NewCore(Config{CollectDelay: time.Second, MaxItems: 2 * n, CollapseChildren: 2 * n})
				for _, s := range evs {
					c.Add(s, t0)
				}
			}
			perEvent(b, n)
		})
	}
}

// BenchmarkAddRepeat merges events into paths already queued: a storm of
// writes to the same files, the common case.
func BenchmarkAddRepeat(b *testing.B) {
	const n = 100000
	evs := benchEvents(1000, 100)
	c := NewCore(Config{CollectDelay: time.Second})
	b.ReportAllocs()
	for b.Loop() {
		for range n / 1000 {
			for _, s := range evs {
				c.Add(s, t0)
			}
		}
	}
	perEvent(b, n)
}

// BenchmarkAddCollapse runs 100k events over 10k dirs with the default
// bounds: the tree outgrows MaxItems, collapses into the root and absorbs
// the rest.
func BenchmarkAddCollapse(b *testing.B) {
	const n = 100000
	evs := benchEvents(n, 10000)
	b.ReportAllocs()
	for b.Loop() {
		c := NewCore(Config{CollectDelay: time.Second})
		for _, s := range evs {
			c.Add(s, t0)
		}
	}
	perEvent(b, n)
}

// BenchmarkAddRescan absorbs a Rescan of each directory after its files
// were queued: the descendant drop must stay proportional to what it drops.
func BenchmarkAddRescan(b *testing.B) {
	const n = 100000
	evs := benchEvents(n, 10000)
	var rescans []event.Event
	for d := range 10000 {
		rescans = append(rescans, event.Event{Path: fmt.Sprintf("src/d%05d", d), Op: event.Rescan, IsDir: true})
	}
	b.ReportAllocs()
	for b.Loop() {
		c := NewCore(Config{CollectDelay: time.Second, MaxItems: 2 * n, CollapseChildren: 2 * n})
		for _, s := range evs {
			c.Add(s, t0)
		}
		c.Add(rescans, t0)
		if c.Len() != 10000 {
			b.Fatalf("Len = %d, want 10000", c.Len())
		}
	}
	perEvent(b, n+10000)
}

// BenchmarkNext emits a batch of 100k queued paths (sorting included).
func BenchmarkNext(b *testing.B) {
	const n = 100000
	evs := benchEvents(n, 10000)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		c := NewCore(Config{MaxItems: 2 * n, CollapseChildren: 2 * n})
		for _, s := range evs {
			c.Add(s, t0)
		}
		b.StartTimer()
		if bt, ok := c.Next(t0); !ok || len(bt.Items) != n {
			b.Fatalf("Next: %v, %d items", ok, len(bt.Items))
		}
	}
	perEvent(b, n)
}
