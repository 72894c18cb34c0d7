// Package clsyncplugin is the whole interface between clsync and a sync
// handler plugin (-M plugin -S handler.so), the Go successor of clsync
// 0.4.5's "so" mode.
//
// A plugin is a main package built with
//
//	go build -buildmode=plugin -o handler.so .
//
// that exports
//
//	func NewSyncer(cfg clsyncplugin.Config) (clsyncplugin.Syncer, error)
//
// Go loads a plugin only if every package it shares with clsync is the very
// same version, built by the same toolchain with the same flags. This
// package imports nothing but the standard library and package event
// (which does the same), so a plugin that imports only these needs
// rebuilding only when they or the Go version change. See examples/plugin.
package clsyncplugin

import (
	"context"
	"log/slog"

	"github.com/clsync-go/clsync/event"
)

// Symbol is the name of the function a plugin exports, of type NewFunc.
const Symbol = "NewSyncer"

// NewFunc is the type of the exported NewSyncer. clsync calls it once, at
// start, before the initial sync.
type NewFunc = func(cfg Config) (Syncer, error)

// Syncer syncs batches of changed paths. Sync is never called concurrently.
// A Syncer that also has a method Close() error is closed when clsync
// stops.
type Syncer interface {
	// Sync syncs items. initial marks the initial sync of the whole tree.
	// An error makes clsync retry the batch (or stop, per -r and
	// --ignore-failures); ctx ends at a stop or at the -k timeout.
	Sync(ctx context.Context, items []Item, initial bool) error
}

// Config is what the plugin is told about the run.
type Config struct {
	// WatchDir (-W) is absolute; Item paths are relative to it.
	WatchDir string
	// Destination (-D) as given, possibly empty or remote.
	Destination string
	// Label (-l).
	Label string
	// Option returns the value of any option by its long name (as %name%
	// expands in handler templates); ok is false for options not set.
	// Never nil.
	Option func(name string) (value string, ok bool)
	// Logger writes to clsync's log. Never nil.
	Logger *slog.Logger
}

// Op is a set of things that happened to a path; several bits may be set
// when events were merged. See package event for the bits: Create, Modify,
// Attrib, Remove and Rescan (what lies below the path is unknown and must
// be synced recursively: a new or moved-in directory, a lost kernel queue,
// the initial sync).
type Op = event.Op

// Item is one path to sync. Items of a batch are sorted by Path; none lies
// below another item that has Rescan. Path is relative to WatchDir,
// '/'-separated, "" being WatchDir itself; names are bytes, not
// necessarily UTF-8. IsDir tells whether the object was a directory when
// the event was read (for Remove: before it went away); lstat the path to
// know what is there now. Mask is inotify's IN_* bits for the item: the
// kernel's mask when there was one, otherwise computed from Op and IsDir
// (IN_CREATE, IN_MODIFY, IN_ATTRIB, IN_DELETE, IN_ISDIR), on every OS.
type Item = event.Event
