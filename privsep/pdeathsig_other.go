//go:build !linux

package privsep

import "syscall"

// setPdeathsig does nothing where the kernel has no parent-death signal
// that Go exposes.
func setPdeathsig(attr *syscall.SysProcAttr) {}
