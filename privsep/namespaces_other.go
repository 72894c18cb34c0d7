//go:build !linux

package privsep

import (
	"errors"
	"runtime"
	"syscall"
)

// SetNamespaces does nothing: CheckNamespaces refused them.
func SetNamespaces(*syscall.SysProcAttr, Namespaces) {}

// CheckNamespaces refuses namespaces where there are none.
func CheckNamespaces(ns Namespaces) error {
	if ns.Any() {
		return errors.New("--detach-network, --detach-ipc and --detach-miscellanea are not supported on " + runtime.GOOS)
	}
	return nil
}
