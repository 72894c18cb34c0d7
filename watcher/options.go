package watcher

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"
)

// Options configure New.
type Options struct {
	// Root is the absolute path of the tree to watch, already resolved by
	// the caller (realpath), so that no component of it is a symlink.
	Root string
	// Walk decides whether the directory rel is descended into and
	// watched (clsync's walk rules: clsync watches what it walks). nil
	// walks every directory; the root is always walked.
	Walk func(rel string) bool
	// Monitor decides whether the changes in the directory rel are
	// reported (the rules' 'm'). A walked directory that is not monitored
	// is still watched, so that the tree below it is followed, but what
	// happens in it is not reported. nil reports everything; the root's
	// changes are always reported.
	//
	// Walk and Monitor are called by New, then by the watcher's goroutine
	// when it walks (never concurrently), and must not block. When the
	// rules behind them change, Reconcile applies the change.
	Monitor func(rel string) bool
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// MovePairTimeout is how long an unpaired "moved from" half waits for
	// its "moved to" half before it counts as a move out of the tree;
	// 0 means DefaultMovePairTimeout.
	MovePairTimeout time.Duration
	// OneFileSystem keeps the watcher on the root's file system (rsync -x):
	// a directory with another st_dev is neither watched nor descended into.
	OneFileSystem bool
	// Progress, when set, is called during the initial walk with the
	// directories watched so far, every ProgressEvery (default a second):
	// on millions of directories the walk takes minutes.
	Progress      func(watched int)
	ProgressEvery time.Duration
	// Backend is the kernel interface to use; "" is this system's
	// default (inotify; on FreeBSD, kqueue where it has no inotify).
	Backend Backend
	// Kernel, when set, owns the inotify instance and adds and removes the
	// watches (privilege separation: a privileged helper does it for an
	// unprivileged watcher, which only reads the events). nil: the watcher
	// does both itself.
	Kernel Kernel
}

// Kernel is an inotify instance whose watches someone else adds.
type Kernel interface {
	// Instance is the non-blocking inotify descriptor the watcher reads
	// (and closes).
	Instance() (int, error)
	// AddWatch watches the directory open as dfd, which is rel (relative
	// to the root, "" for the root) at the time of the call. An error
	// matching ESTALE means rel is no longer that directory.
	AddWatch(dfd int, rel string, mask uint32) (int32, error)
	// RemoveWatch removes watch wd (inotify_rm_watch).
	RemoveWatch(wd int32) error
}

// DefaultMovePairTimeout is the default Options.MovePairTimeout.
//
// The kernel queues both halves of one rename(2) back to back, so they reach
// different reads only when a read buffer ends between them (the second half
// is then already queued) or when a read lands in the microseconds between
// the two. The watcher only expires a half after it has seen the queue empty
// past the deadline, so the timeout merely has to outlast the renaming thread
// being preempted between the two halves. A timeout that is too short costs
// work, never correctness: the directory is dropped and then watched and
// scanned again as a move-in. One that is too long only delays the Remove of a
// move out, by far less than the aggregator's own delay of seconds.
const DefaultMovePairTimeout = 50 * time.Millisecond

// withDefaults checks the root and fills in what was left zero.
func (o Options) withDefaults() (Options, error) {
	if !filepath.IsAbs(o.Root) {
		return o, fmt.Errorf("watcher: root %q is not an absolute path", o.Root)
	}
	o.Root = filepath.Clean(o.Root)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MovePairTimeout <= 0 {
		o.MovePairTimeout = DefaultMovePairTimeout
	}
	return o, nil
}
