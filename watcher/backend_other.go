//go:build !linux && !freebsd

package watcher

import (
	"context"
	"fmt"
	"runtime"
)

// newBackend fails: this system has no notification backend. clsync-go
// refuses to start rather than run without seeing changes.
func newBackend(ctx context.Context, opts Options) (backend, error) {
	return nil, fmt.Errorf("watcher: no file-system notification backend for %s", runtime.GOOS)
}

// backends is empty: none here.
func backends() []Backend { return nil }

// WatchLimit is -1: no backend, no known limit.
func WatchLimit() int { return -1 }
