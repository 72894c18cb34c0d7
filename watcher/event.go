// Package watcher turns kernel file-system notifications into Events on paths
// relative to the watched root. It is the only package that talks to inotify
// (Linux) or kqueue (FreeBSD).
package watcher

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
	// recursively (a new or moved-in directory, an overflowed queue).
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

// Event is one change reported by the kernel, or synthesised by the watcher
// where the kernel cannot say enough (a scan of a new directory, a rescan
// after an overflow).
type Event struct {
	// Path is relative to the watched root, '/'-separated, without a
	// leading slash; "" is the root itself. Names are bytes, not UTF-8.
	Path string
	Op   Op
	// IsDir tells whether the object was a directory when the event was
	// read (for Remove: before it went away).
	IsDir bool
	// Mask is the raw kernel mask (inotify's IN_* bits), 0 for synthetic
	// events; handlers pass it on as %EVENT-MASK%.
	Mask uint32
}
