// Package event holds what flows from the watcher through the aggregator and
// the dispatcher to the handlers and plugins: a changed path and what
// happened to it. It imports only the standard library, so a sync handler
// plugin that uses it is tied to nothing else of clsync.
package event

import "strings"

// Op is a set of things that happened to a path. Ops are OR-ed when events
// for one path are merged, so every bit must be safe to combine.
type Op uint8

const (
	// Create: the object appeared (created, moved in, renamed to here).
	Create Op = 1 << iota
	// Modify: file content changed (write, truncate, close after write).
	Modify
	// Attrib: metadata changed (mode, owner, times).
	Attrib
	// Remove: the object disappeared (deleted, moved out, renamed away).
	Remove
	// Rescan: what lies below the path is unknown and must be synced
	// recursively (a new or moved-in directory, an overflowed queue, the
	// initial sync).
	Rescan
)

func (o Op) String() string {
	if o == 0 {
		return "none"
	}
	names := []string{"create", "modify", "attrib", "remove", "rescan"}
	var parts []string
	for i, n := range names {
		if o&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, "|")
}

// Event is one change to one path: reported by the kernel, synthesised by
// the watcher where the kernel cannot say enough (a scan of a new
// directory, a rescan after an overflow), or merged from several by the
// aggregator.
type Event struct {
	// Path is relative to the watched root, '/'-separated, without a
	// leading slash; "" is the root itself. Names are bytes, not UTF-8.
	Path string
	Op   Op
	// IsDir tells whether the object was a directory when the event was
	// read (for Remove: before it went away). Lstat the path to know what
	// is there now.
	IsDir bool
	// Mask is the raw kernel mask (inotify's IN_* bits), 0 for synthetic
	// events; see EventMask.
	Mask uint32
}

// inotify's IN_* values, which handlers receive as %EVENT-MASK% and in list
// lines on every OS: handlers written for clsync test these bits.
const (
	InModify uint32 = 0x2
	InAttrib uint32 = 0x4
	InCreate uint32 = 0x100
	InDelete uint32 = 0x200
	InIsDir  uint32 = 0x40000000
)

// EventMask is the mask handlers get as %EVENT-MASK%: the kernel's, or, for
// a synthetic event (a walk, a rescan, a backend without masks), one built
// from Op so that handlers can rely on it. A rescanned object is reported
// as created, as clsync reports what its walks find.
func (e Event) EventMask() uint32 {
	if e.Mask != 0 {
		return e.Mask
	}
	var m uint32
	if e.Op&(Create|Rescan) != 0 {
		m |= InCreate
	}
	if e.Op&Modify != 0 {
		m |= InModify
	}
	if e.Op&Attrib != 0 {
		m |= InAttrib
	}
	if e.Op&Remove != 0 {
		m |= InDelete
	}
	if e.IsDir {
		m |= InIsDir
	}
	return m
}

// Recursive tells whether the event's whole subtree must be synced: a
// directory that went away (it must leave the mirror with all its content),
// a rescan, a new directory, or a path removed and created again (it may
// have changed type). A removed file is not (a merged mask with IN_ISDIR
// says a directory went away at the path too), nor a metadata change of a
// directory: re-checking a large tree for a chmod would be wasted work.
func (e Event) Recursive() bool {
	dir := e.IsDir || e.Mask&InIsDir != 0
	return e.Op&Rescan != 0 || e.Op&(Create|Remove) != 0 && dir || e.Op&(Create|Remove) == Create|Remove
}
