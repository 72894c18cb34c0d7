package watcher

import "errors"

// ErrClosed is returned by Quiesce once the watcher has been closed.
var ErrClosed = errors.New("watcher: closed")

// WatchError reports a directory the watcher could not open, watch or list,
// so that changes below it would be missed. It unwraps to the errno, so
// errors.Is(err, fs.ErrPermission) and errors.Is(err, unix.ENOSPC) work.
type WatchError struct {
	Op   string // "open", "watch" or "scan"
	Path string // absolute
	Err  error
	// Detail says what Err means here and how to fix it; empty when Err
	// says it all.
	Detail string
}

func (e *WatchError) Error() string {
	if e.Detail == "" {
		return e.Op + " " + e.Path + ": " + e.Err.Error()
	}
	return e.Op + " " + e.Path + ": " + e.Detail
}

func (e *WatchError) Unwrap() error { return e.Err }

// RootError reports that the watched root is no longer the tree the caller
// mirrors (deleted, moved away, replaced or unmounted). The watcher stops
// instead of reporting the tree's content as removed, so that the caller
// never syncs an empty tree over the mirror.
type RootError struct {
	Root   string
	Reason string
}

func (e *RootError) Error() string { return "watch root " + e.Root + ": " + e.Reason }
