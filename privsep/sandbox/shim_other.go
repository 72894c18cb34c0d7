//go:build !linux

package sandbox

import (
	"fmt"
	"runtime"
)

// Check refuses any confinement: the shim needs Linux (mount namespaces,
// pivot_root, capabilities, Landlock).
func (s Spec) Check() error {
	if s.IsZero() {
		return nil
	}
	return fmt.Errorf("handler sandbox: not supported on %s", runtime.GOOS)
}

// Main refuses to start the handler.
func Main(args []string) int {
	return fail(fmt.Errorf("not supported on %s", runtime.GOOS))
}

// LandlockABI is 0: Landlock is a Linux security module.
func LandlockABI() int { return 0 }
