//go:build !linux

package main

import "fmt"

// mountPointsBelow is only implemented where /proc/self/mountinfo exists.
func mountPointsBelow(root string) ([]string, error) {
	return nil, fmt.Errorf("--exclude-mount-points is not supported on this system yet")
}
