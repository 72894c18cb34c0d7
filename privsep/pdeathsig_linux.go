//go:build linux

package privsep

import "syscall"

// setPdeathsig asks for SIGKILL when the forking thread exits. The kernel
// clears the setting on a credential change, so Go applies it after the
// Credential of the child.
func setPdeathsig(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGKILL }
