//go:build !linux && !freebsd

package cli

// defaultMonitor names no monitor: this system has none we support.
const defaultMonitor = "none"
