//go:build !linux

package sandbox

import (
	"fmt"
	"runtime"
)

// Check refuses any confinement: it needs Linux (mount namespaces,
// pivot_root, capabilities, Landlock).
func (s Spec) Check() error {
	if s.IsZero() {
		return nil
	}
	return fmt.Errorf("handler sandbox: not supported on %s", runtime.GOOS)
}

// Launcher starts confined processes (Linux only).
type Launcher struct{}

// NewLauncher makes a launcher that refuses to run.
func NewLauncher(Spec) *Launcher { return &Launcher{} }

// Setup refuses: confinement needs Linux.
func (*Launcher) Setup() error {
	return fmt.Errorf("handler sandbox: not supported on %s", runtime.GOOS)
}

// Run refuses: confinement needs Linux.
func (l *Launcher) Run(func() error) error { return l.Setup() }

// LandlockABI is 0: Landlock is a Linux security module.
func LandlockABI() int { return 0 }
