package privsep

import "syscall"

// SetNamespaces has the kernel create ns for the child at clone.
func SetNamespaces(attr *syscall.SysProcAttr, ns Namespaces) {
	if ns.Net {
		attr.Cloneflags |= syscall.CLONE_NEWNET
	}
	if ns.IPC {
		attr.Cloneflags |= syscall.CLONE_NEWIPC
	}
	if ns.UTS {
		attr.Cloneflags |= syscall.CLONE_NEWUTS
	}
}

// CheckNamespaces is nil: Linux has them.
func CheckNamespaces(Namespaces) error { return nil }
