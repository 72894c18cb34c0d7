//go:build freebsd

package watcher

import (
	"context"
	"fmt"
)

// newBackend fails until the FreeBSD backends land.
func newBackend(ctx context.Context, opts Options) (backend, error) {
	return nil, fmt.Errorf("watcher: no file-system notification backend for freebsd in this version")
}

// backends are FreeBSD's.
func backends() []Backend { return []Backend{Inotify, Kqueue} }

// WatchLimit is -1: no known limit.
func WatchLimit() int { return -1 }
