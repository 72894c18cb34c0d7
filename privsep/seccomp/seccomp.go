// Package seccomp confines clsync's unprivileged worker process with a
// seccomp allow-list, built with libseccomp (libseccomp-golang), so it needs
// cgo; builds without cgo or for other systems report that instead.
package seccomp

// Options choose what the filter allows beyond the worker's list.
type Options struct {
	// PermitMprotect (--permit-mprotect) lets mmap and mprotect make memory
	// executable. mprotect itself is always allowed: a cgo build needs it
	// for every new thread (see argRules in seccomp_linux.go).
	PermitMprotect bool
	// Extra are more system call names to allow with any arguments (the
	// caller's own needs); an unknown name is an error.
	Extra []string
}
