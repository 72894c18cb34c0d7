// Package proctest reads the credentials and confinement of each thread of
// a process from /proc, for tests that check privilege drops. Most of
// these attributes are per thread, so a test must look at every thread.
// It is Linux-only; this file lets the package build elsewhere.
package proctest
