//go:build !linux && !freebsd

package main

// defaultMonitor names no monitor: this system has none we support.
const defaultMonitor = "none"
