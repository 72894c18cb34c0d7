package main

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/clsync-go/clsync/config"
	"github.com/clsync-go/clsync/rules"
)

// invalidError is bad input from the user: an option, a value, a conflict,
// a config key. It maps to EINVAL, like clsync.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// exitCode is the one place that turns an error into the process exit code.
// clsync exits with an errno: 22 (EINVAL) for bad input, 2 (ENOENT) for a
// missing file or directory, 13 (EACCES) for a permission problem, and the
// errno of any other failed system call.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var inv *invalidError
	if errors.As(err, &inv) || errors.Is(err, rules.ErrSyntax) || errors.Is(err, config.ErrSyntax) {
		return int(syscall.EINVAL)
	}
	var exit *handlerExitError
	if errors.As(err, &exit) {
		return exit.code
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

// handlerExitError ends the run with a chosen exit code, e.g. the sync
// handler's own code once retries are exhausted, as clsync does.
type handlerExitError struct {
	err  error
	code int
}

func (e *handlerExitError) Error() string { return e.err.Error() }
func (e *handlerExitError) Unwrap() error { return e.err }
