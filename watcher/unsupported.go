//go:build !linux

package watcher

import "github.com/clsync-go/clsync/event"

// Watcher is only implemented on Linux; elsewhere New fails and a Watcher is
// never handed out, so these methods exist only to keep callers portable.
type Watcher struct{}

// Events returns nil: New never returns a Watcher on this system.
func (w *Watcher) Events() <-chan []event.Event { return nil }

// Err returns nil: New never returns a Watcher on this system.
func (w *Watcher) Err() error { return nil }

// Close does nothing: New never returns a Watcher on this system.
func (w *Watcher) Close() error { return nil }

// Watches returns 0: New never returns a Watcher on this system.
func (w *Watcher) Watches() int { return 0 }
