//go:build freebsd

package watcher

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// newBackend picks FreeBSD's native inotify where the kernel has it (15.0
// and later: one watch per directory, names in events), else kqueue (one
// descriptor per directory and file). Both feed the same snapshot core.
func newBackend(ctx context.Context, opts Options) (backend, error) {
	if opts.Kernel != nil {
		return nil, errors.New("watcher: privilege separation is not supported on FreeBSD")
	}
	pin, err := PinRoot(opts.Root)
	if err != nil {
		return nil, err
	}
	switch opts.Backend {
	case "", Auto:
		if fbsdHasInotify() {
			return newInotifyBackend(ctx, opts, pin)
		}
		return newKqueueBackend(ctx, opts, pin)
	case Inotify:
		if !fbsdHasInotify() {
			return nil, fmt.Errorf("watcher: this FreeBSD has no native inotify (it came with 15.0): use --monitor=kqueue")
		}
		return newInotifyBackend(ctx, opts, pin)
	case Kqueue:
		return newKqueueBackend(ctx, opts, pin)
	}
	return nil, fmt.Errorf("watcher: monitor %q is not available on FreeBSD (it offers inotify, kqueue, auto)", opts.Backend)
}

// backends are FreeBSD's.
func backends() []Backend { return []Backend{Inotify, Kqueue} }

// WatchLimit is vfs.inotify.max_user_watches where FreeBSD has native
// inotify, else -1: kqueue's limits are the descriptor limits.
func WatchLimit() int {
	v, err := unix.SysctlUint32("vfs.inotify.max_user_watches")
	if err != nil {
		return -1
	}
	return int(v)
}
