package main

import (
	"errors"
	"io/fs"
	"syscall"

	"github.com/clsync-go/clsync/privsep/split"

	"github.com/clsync-go/clsync/config"
	"github.com/clsync-go/clsync/dispatch"
	"github.com/clsync-go/clsync/handlers"
	"github.com/clsync-go/clsync/internal/cli"
	"github.com/clsync-go/clsync/rules"
)

// exitCode is the one place that turns an error into the process exit code.
// clsync exits with an errno: 22 (EINVAL) for bad input, 2 (ENOENT) for a
// missing file or directory, 13 (EACCES) for a permission problem, and the
// errno of any other failed system call. A run that a failing sync ended
// exits with the handler's exit code, as clsync does, or 1.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var status *exitStatus
	if errors.As(err, &status) {
		return status.code
	}
	if dispatch.IsFatal(err) {
		var exit *handlers.ExitError
		if errors.As(err, &exit) {
			return exit.Code
		}
		return 1
	}
	if perr := (*split.ProtocolError)(nil); errors.As(err, &perr) {
		// The worker broke the protocol: EPROTO.
		return 71
	}
	for _, invalid := range []error{cli.ErrInvalid, handlers.ErrInvalid, rules.ErrSyntax, config.ErrSyntax} {
		if errors.Is(err, invalid) {
			return int(syscall.EINVAL)
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return int(syscall.ENOENT)
	case errors.Is(err, fs.ErrPermission):
		return int(syscall.EACCES)
	}
	var errno syscall.Errno
	if errors.As(err, &errno) && errno != 0 && errno < 256 {
		return int(errno)
	}
	return 1
}

// exitStatus ends the program with a code whose reason was reported by
// another process already (the -b daemon that failed to start).
type exitStatus struct{ code int }

func (e *exitStatus) Error() string { return "" }
