//go:build !linux

package handlers

// usedInodes is not asked of other systems: treeSizes reads directories.
func usedInodes(string) (uint64, bool) { return 0, false }
