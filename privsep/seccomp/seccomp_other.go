//go:build !linux || !cgo

package seccomp

import (
	"errors"
	"runtime"
)

// Available is nil when this build and kernel can load a filter, else an
// error for one line of output. Here it is never nil: filters are built with
// libseccomp through cgo, and seccomp exists only on Linux.
func Available() error {
	if runtime.GOOS != "linux" {
		return errors.New("--seccomp-filter: not supported on " + runtime.GOOS)
	}
	return errors.New("--seccomp-filter: this clsync was built without cgo (CGO_ENABLED=0); build it with `make build`")
}

// Load returns Available's error: there is no filter to load in this build.
func Load(Options) error {
	return Available()
}
