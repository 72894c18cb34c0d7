// Package watcher turns kernel file-system notifications into events on
// paths relative to the watched root. It is the only package that talks to
// the kernel's notification interfaces (inotify on Linux).
package watcher
