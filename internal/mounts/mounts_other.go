//go:build !linux

package mounts

import "fmt"

// Below is only implemented where /proc/self/mountinfo exists.
func Below(root string) ([]string, error) {
	return nil, fmt.Errorf("--exclude-mount-points is not supported on this system yet")
}
