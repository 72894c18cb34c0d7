//go:build linux

package watcher

import (
	"iter"
	"math/bits"
)

// wdTable finds the node of a wd. It holds one entry per watch, so it is a
// hash table of the node pointers alone, with open addressing: a node
// carries its wd (which never changes), so the table needs no key of its
// own and costs 11 to 21 bytes per watch (8 per slot, 3/8 to 3/4 full) as
// a tree grows, where a map[int32]*node costs 25 to 40 and leaves as much
// again as garbage each time it grows. A slice
// indexed by wd would be smaller still but unbounded: the kernel hands out
// ever higher wds over a long run.
type wdTable struct {
	slots []*node // nil or a power of two long; nil marks a free slot
	shift uint    // 64 - log2(len(slots)), see home
	count int
}

// minWdSlots is the size of the smallest table. A table doubles when it
// would be over 3/4 full, and halves below 1/8 full, so that a tree that
// lost most of its directories gives the memory back.
const minWdSlots = 8

// home is the slot where the search for wd starts. Fibonacci hashing (the
// top bits of the product with 2^64 over the golden ratio) spreads the
// kernel's consecutive wds evenly, and strided ones well too.
func (t *wdTable) home(wd int32) int {
	return int((uint64(uint32(wd)) * 0x9E3779B97F4A7C15) >> t.shift)
}

// index returns the slot of wd, or -1.
func (t *wdTable) index(wd int32) int {
	if t.count == 0 {
		return -1
	}
	mask := len(t.slots) - 1
	for i := t.home(wd); t.slots[i] != nil; i = (i + 1) & mask {
		if t.slots[i].wd == wd {
			return i
		}
	}
	return -1
}

func (t *wdTable) get(wd int32) *node {
	if i := t.index(wd); i >= 0 {
		return t.slots[i]
	}
	return nil
}

// set makes n the node of n.wd, in place of any other.
func (t *wdTable) set(n *node) {
	if i := t.index(n.wd); i >= 0 {
		t.slots[i] = n
		return
	}
	if 4*(t.count+1) > 3*len(t.slots) {
		t.resize(max(2*len(t.slots), minWdSlots))
	}
	t.insert(n)
	t.count++
}

func (t *wdTable) insert(n *node) {
	mask := len(t.slots) - 1
	i := t.home(n.wd)
	for t.slots[i] != nil {
		i = (i + 1) & mask
	}
	t.slots[i] = n
}

func (t *wdTable) delete(wd int32) {
	i := t.index(wd)
	if i < 0 {
		return
	}
	// Backward shift: the entries after the hole that could have been
	// placed in it move back, so that every search still finds its entry
	// before a free slot.
	mask := len(t.slots) - 1
	t.slots[i] = nil
	for j := (i + 1) & mask; t.slots[j] != nil; j = (j + 1) & mask {
		if k := t.home(t.slots[j].wd); !cyclicallyIn(k, i, j) {
			t.slots[i], t.slots[j] = t.slots[j], nil
			i = j
		}
	}
	t.count--
	if t.count == 0 {
		t.slots = nil
	} else if len(t.slots) > minWdSlots && 8*t.count < len(t.slots) {
		t.resize(len(t.slots) / 2)
	}
}

// cyclicallyIn tells whether slot k lies in (i, j], going round the end.
func cyclicallyIn(k, i, j int) bool {
	if i <= j {
		return i < k && k <= j
	}
	return i < k || k <= j
}

func (t *wdTable) resize(size int) {
	old := t.slots
	t.slots = make([]*node, size)
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
	for _, n := range old {
		if n != nil {
			t.insert(n)
		}
	}
}

// all ranges over the nodes in the table, in no particular order. The body
// must not change the table: a deletion may move entries back past it.
func (t *wdTable) all() iter.Seq[*node] {
	return func(yield func(*node) bool) {
		for _, n := range t.slots {
			if n != nil && !yield(n) {
				return
			}
		}
	}
}
