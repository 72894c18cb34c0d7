package watcher

import (
	"slices"

	"github.com/clsync-go/clsync/event"
)

// The snapshot backends (kqueue, and FreeBSD's native inotify) learn only
// that a directory changed, not what changed in it: they list it again and
// diff the listing against the last one. This file is that diff; snaptree.go
// applies it.

// snapEntry is what a listing records of one name: the object's identity
// (dev, ino), and what tells a changed object from an unchanged one.
type snapEntry struct {
	dev, ino uint64
	size     int64
	mtime    int64  // nanoseconds since the epoch
	mode     uint32 // st_mode: type and permission bits
	isDir    bool
}

// snapID identifies an object on its file system: the key that pairs the
// two halves of a rename.
type snapID struct{ dev, ino uint64 }

func (e snapEntry) id() snapID { return snapID{e.dev, e.ino} }

// sameObject tells whether o is the object e was (an inode is reused only
// after the object is gone, and a type never changes in place).
func (e snapEntry) sameObject(o snapEntry) bool { return e.id() == o.id() && e.isDir == o.isDir }

// st_mode's type bits, which are the same on every Unix.
const (
	snapIFMT  = 0o170000
	snapIFREG = 0o100000
)

// regular tells whether e is a regular file: only those get a descriptor of
// their own under kqueue (a FIFO's open would block, a device's has effects).
func (e snapEntry) regular() bool { return e.mode&snapIFMT == snapIFREG }

type snapChangeKind uint8

const (
	snapAdded    snapChangeKind = iota + 1
	snapRemoved                 // the name is gone
	snapReplaced                // another object took the name
	snapChanged                 // the same object, changed: op says how
)

// snapChange is what happened to one name between two listings.
type snapChange struct {
	name     string
	kind     snapChangeKind
	old, new snapEntry
	op       event.Op // for snapChanged: Modify and/or Attrib
}

// snapDiff compares two listings of one directory, in name order (so that
// what a change reports does not depend on map order).
func snapDiff(old, new map[string]snapEntry) []snapChange {
	var changes []snapChange
	for name, n := range new {
		o, ok := old[name]
		switch {
		case !ok:
			changes = append(changes, snapChange{name: name, kind: snapAdded, new: n})
		case !o.sameObject(n):
			changes = append(changes, snapChange{name: name, kind: snapReplaced, old: o, new: n})
		default:
			if op := snapEntryOp(o, n); op != 0 {
				changes = append(changes, snapChange{name: name, kind: snapChanged, old: o, new: n, op: op})
			}
		}
	}
	for name, o := range old {
		if _, ok := new[name]; !ok {
			changes = append(changes, snapChange{name: name, kind: snapRemoved, old: o})
		}
	}
	slices.SortFunc(changes, func(a, b snapChange) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	return changes
}

// snapEntryOp says how the same object changed between two listings. A
// directory's size and mtime change with its entries, which its own listing
// reports: only its mode counts.
func snapEntryOp(old, new snapEntry) event.Op {
	var op event.Op
	if !new.isDir && (old.size != new.size || old.mtime != new.mtime) {
		op |= event.Modify
	}
	if old.mode != new.mode {
		op |= event.Attrib
	}
	return op
}
