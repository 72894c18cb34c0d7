//go:build !linux

package watcher

import (
	"context"
	"fmt"
	"runtime"
)

// newBackend fails: this system has no notification backend yet (FreeBSD's
// comes with its own issue). clsync-go refuses to start rather than run
// without seeing changes.
func newBackend(ctx context.Context, opts Options) (backend, error) {
	return nil, fmt.Errorf("watcher: no file-system notification backend for %s in this version", runtime.GOOS)
}

// WatchLimit is -1: no backend, no known limit.
func WatchLimit() int { return -1 }
