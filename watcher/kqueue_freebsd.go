//go:build freebsd

package watcher

import (
	"context"
	"errors"
)

// New fails: the kqueue backend (directory snapshots diffed on NOTE_WRITE,
// see DESIGN.md) is not written yet.
func New(ctx context.Context, opts Options) (*Watcher, error) {
	return nil, errors.New("watcher: kqueue backend for freebsd not supported yet")
}
