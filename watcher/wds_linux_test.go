//go:build linux

package watcher

import (
	"math/rand/v2"
	"testing"
)

// The wd table agrees with a map through growth, shrinking, deletions that
// shift entries back (also round the end of the table) and replacements,
// with wds handed out the kernel's way (ascending) and at random.
func TestWdTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		wd   func(rng *rand.Rand, next *int32) int32
	}{
		{"ascending", func(_ *rand.Rand, next *int32) int32 { *next++; return *next }},
		{"random", func(rng *rand.Rand, _ *int32) int32 { return rng.Int32N(1 << 12) }},
		{"wide", func(rng *rand.Rand, _ *int32) int32 { return rng.Int32() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var tab wdTable
			want := make(map[int32]*node)
			var wds []int32 // the keys of want, to delete one at random
			var next int32
			check := func(step int) {
				t.Helper()
				if tab.count != len(want) {
					t.Fatalf("step %d: count %d, want %d", step, tab.count, len(want))
				}
				if size := len(tab.slots); 4*tab.count > 3*size || size > minWdSlots && 8*tab.count < size {
					t.Fatalf("step %d: %d entries in %d slots", step, tab.count, size)
				}
				for wd, n := range want {
					if got := tab.get(wd); got != n {
						t.Fatalf("step %d: get(%d) = %p, want %p", step, wd, got, n)
					}
				}
				seen := 0
				for n := range tab.all() {
					if want[n.wd] != n {
						t.Fatalf("step %d: all yields wd %d, not in the table", step, n.wd)
					}
					seen++
				}
				if seen != len(want) {
					t.Fatalf("step %d: all yields %d nodes, want %d", step, seen, len(want))
				}
			}
			for step := range 20000 {
				// Grow to a few thousand entries, shrink to none, and again.
				phase := step / 5000 % 2
				switch op := rng.IntN(10); {
				case op < 6-4*phase:
					n := &node{wd: tc.wd(rng, &next)}
					tab.set(n)
					if want[n.wd] == nil {
						wds = append(wds, n.wd)
					}
					want[n.wd] = n
				case op < 9 && len(wds) > 0:
					i := rng.IntN(len(wds))
					wd := wds[i]
					wds[i] = wds[len(wds)-1]
					wds = wds[:len(wds)-1]
					tab.delete(wd)
					delete(want, wd)
				default:
					// Deleting a wd that is not there changes nothing.
					wd := -1 - rng.Int32N(100)
					tab.delete(wd)
					if tab.get(wd) != nil {
						t.Fatalf("get(%d) found a node never set", wd)
					}
				}
				if step%97 == 0 || len(want) < 20 {
					check(step)
				}
			}
			check(-1)
			if len(want) == 0 && tab.slots != nil {
				t.Errorf("empty table keeps %d slots", len(tab.slots))
			}
		})
	}
}
