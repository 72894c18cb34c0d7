//go:build !linux

package watcher

// osTargets: the backends of this system are all there is to run.
func osTargets() []target { return nil }
