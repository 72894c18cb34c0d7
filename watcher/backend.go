package watcher

import (
	"fmt"
	"strings"

	"github.com/clsync-go/clsync/event"
)

// Backend names a kernel notification interface: clsync's --monitor values
// (inotify, kqueue) and ours (fanotify, auto).
type Backend string

const (
	// Auto picks the best backend that can serve the root: fanotify where
	// it is safe (Linux, CAP_SYS_ADMIN, a kernel and file system that
	// support it), else what Default picks.
	Auto Backend = "auto"
	// Inotify is one watch per directory (Linux; FreeBSD 15.0 and later).
	Inotify Backend = "inotify"
	// Fanotify is one mark per file system (Linux 5.17 and later, root).
	Fanotify Backend = "fanotify"
	// Kqueue is one descriptor per directory and file (FreeBSD before
	// native inotify).
	Kqueue Backend = "kqueue"
)

// ParseBackend checks a --monitor value against the backends of this build.
func ParseBackend(s string) (Backend, error) {
	b := Backend(s)
	if b == Auto {
		return b, nil
	}
	for _, known := range backends() {
		if b == known {
			return b, nil
		}
	}
	return "", fmt.Errorf("monitor %q is not available on this system (it offers %s)", s, Offered())
}

// Offered lists the values ParseBackend accepts, for messages.
func Offered() string {
	var names []string
	for _, b := range backends() {
		names = append(names, string(b))
	}
	return strings.Join(append(names, string(Auto)), ", ")
}

// inCloseWrite is IN_CLOSE_WRITE, which Linux's and FreeBSD's inotify and
// fanotify (FAN_CLOSE_WRITE) share, as they share the bits in event.
const inCloseWrite uint32 = 0x8

// maskOp is what inotify's bits in mask (or fanotify's, which have their
// values) say happened to an entry.
func maskOp(mask uint32) event.Op {
	var op event.Op
	if mask&event.InCreate != 0 {
		op |= event.Create
	}
	if mask&event.InDelete != 0 {
		op |= event.Remove
	}
	if mask&(event.InModify|inCloseWrite) != 0 {
		op |= event.Modify
	}
	if mask&event.InAttrib != 0 {
		op |= event.Attrib
	}
	return op
}
