//go:build !linux && !freebsd

package cli

// isTerminal is false: the progress line is for Linux and FreeBSD.
func isTerminal(int) bool { return false }
