//go:build !linux && !freebsd

package watcher

import (
	"context"
	"fmt"
	"runtime"
)

// New fails: this system has no supported notification backend.
func New(ctx context.Context, opts Options) (*Watcher, error) {
	return nil, fmt.Errorf("watcher: not supported on %s", runtime.GOOS)
}
