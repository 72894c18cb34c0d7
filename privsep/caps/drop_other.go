//go:build !linux

package caps

import (
	"fmt"
	"runtime"
)

// Drop is Linux-only: capabilities are a Linux feature.
func Drop(c Creds, keep, bounding Set) error {
	return fmt.Errorf("drop capabilities: not supported on %s", runtime.GOOS)
}
